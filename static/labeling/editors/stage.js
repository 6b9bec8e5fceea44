/* Images in the portal: an image fitted to its box, with an SVG overlay whose user units are
   the image's ORIGINAL pixels (its viewBox is 0 0 width height), so whatever is drawn on it is
   already in the coordinates a label is submitted in; and the box-drawing layer that the
   bounding-box and the video editors share. */
(function () {
  "use strict";
  var P = (window.SextantPortal = window.SextantPortal || {});

  // ------------------------------------------------------------------------ ImageStage
  // opts: {src, width, height}: width/height are the item's own (from the dataset); the
  // image's natural size stands in when they are missing.
  P.ImageStage = function (container, opts) {
    var self = this;
    var outer = P.el("div", { class: "img-stage" }, container);
    var wrap = P.el("div", { class: "img-wrap is-loading" }, outer);
    var img = P.el("img", { alt: "The item to label", draggable: "false" }, wrap);
    var svg = P.svg("svg", { class: "img-overlay", preserveAspectRatio: "none" }, wrap);
    var tags = P.el("div", { class: "img-tags" }, wrap);
    var readyFns = [];
    var resizeFns = [];
    self.W = Number(opts.width) || 0;
    self.H = Number(opts.height) || 0;
    self.scale = 1;
    self.isReady = false;
    self.outer = outer;
    self.wrap = wrap;
    self.img = img;
    self.svg = svg;
    self.tags = tags;

    function fit() {
      if (!self.W || !self.H) return;
      var aw = outer.clientWidth - 2 * 12;
      var ah = outer.clientHeight - 2 * 12;
      if (aw <= 0 || ah <= 0) return;
      // Small images are scaled up to be worked on comfortably; big ones down to fit.
      var s = Math.min(aw / self.W, ah / self.H, 8);
      wrap.style.width = Math.floor(self.W * s) + "px";
      wrap.style.height = Math.floor(self.H * s) + "px";
      self.scale = Math.floor(self.W * s) / self.W;
      wrap.classList.toggle("is-pixelated", s >= 3);
      resizeFns.forEach(function (f) { f(self.scale); });
    }

    img.addEventListener("load", function () {
      wrap.classList.remove("is-loading");
      if (!self.W || !self.H) {
        self.W = img.naturalWidth;
        self.H = img.naturalHeight;
      }
      if (self.isReady) return;
      svg.setAttribute("viewBox", "0 0 " + self.W + " " + self.H);
      self.isReady = true;
      fit();
      readyFns.splice(0).forEach(function (f) { f(); });
    });
    img.addEventListener("error", function () {
      wrap.classList.remove("is-loading");
      if (!self.isReady) {
        outer.classList.add("is-broken");
        P.el("p", { class: "img-broken", text: "The image could not be loaded." }, outer);
      }
    });
    if (self.W && self.H) {
      svg.setAttribute("viewBox", "0 0 " + self.W + " " + self.H);
      wrap.style.aspectRatio = self.W + " / " + self.H;
    }
    img.src = opts.src;

    var observer = new ResizeObserver(function () { fit(); });
    observer.observe(outer);

    self.ready = function (f) { if (self.isReady) f(); else readyFns.push(f); };
    self.onResize = function (f) { resizeFns.push(f); };
    self.setSrc = function (src) { if (img.getAttribute("src") !== src) img.src = src; };
    // An event's position in image pixels (clamped to the image when `clamp`).
    self.point = function (ev, clamp) {
      var r = wrap.getBoundingClientRect();
      var x = ((ev.clientX - r.left) / r.width) * self.W;
      var y = ((ev.clientY - r.top) / r.height) * self.H;
      if (clamp) {
        x = P.clamp(x, 0, self.W);
        y = P.clamp(y, 0, self.H);
      }
      return { x: x, y: y };
    };
    // n screen pixels in image pixels.
    self.px = function (n) { return n / (self.scale || 1); };
    self.destroy = function () {
      observer.disconnect();
      resizeFns = [];
      readyFns = [];
      outer.remove();
    };
  };

  // A tag (class name) at an image point, in % so it follows the image's size.
  P.tagAt = function (stage, x, y, text, color, cls) {
    var t = P.el("div", { class: "img-tag" + (cls ? " " + cls : ""), text: text }, stage.tags);
    t.style.left = (x / stage.W) * 100 + "%";
    t.style.top = (y / stage.H) * 100 + "%";
    t.style.setProperty("--c", color);
    return t;
  };

  // ------------------------------------------------------------------------ BoxLayer
  // Boxes on a stage: drag on the image to draw one, click one to select it, drag it to
  // move it, drag a corner handle of the selected one to resize it. The owner keeps the
  // boxes; the layer asks for them and reports what the pointer did:
  //   items() → [{x, y, w, h, color, name, dashed, selected}]
  //   create(rect)        a new box was drawn
  //   select(i)           box i was clicked (-1: the empty image was)
  //   move(i, rect, phase) box i moves or resizes; phase "start" (once), "drag", "end"
  var CORNERS = ["nw", "ne", "sw", "se"];
  var CURSORS = { nw: "nwse-resize", se: "nwse-resize", ne: "nesw-resize", sw: "nesw-resize" };
  var MIN_SCREEN = 4; // a drag shorter than this (screen px) is a click

  P.BoxLayer = function (stage, o) {
    var self = this;
    var ghost = P.svg("g", { class: "bx-ghost" }, stage.svg);
    var g = P.svg("g", { class: "bx-layer" }, stage.svg);
    var guide = P.svg("g", { class: "bx-guide" }, stage.svg);
    var gx = P.svg("line", { class: "guide" }, guide);
    var gy = P.svg("line", { class: "guide" }, guide);
    var tags = P.el("div", { class: "bx-tags" }, stage.tags);
    var drag = null;
    var ghostItems = [];
    guide.style.display = "none";

    function corners(b) {
      return { nw: [b.x, b.y], ne: [b.x + b.w, b.y], sw: [b.x, b.y + b.h], se: [b.x + b.w, b.y + b.h] };
    }

    function drawBox(parent, b, cls) {
      var r = P.svg("rect", { x: b.x, y: b.y, width: Math.max(b.w, 0), height: Math.max(b.h, 0), class: cls }, parent);
      r.style.setProperty("--c", b.color);
      return r;
    }

    self.render = function () {
      if (!stage.isReady) return;
      g.innerHTML = "";
      tags.innerHTML = "";
      var items = o.items();
      var hs = stage.px(9);
      items.forEach(function (b, i) {
        drawBox(g, b, "bx" + (b.selected ? " is-sel" : "") + (b.dashed ? " is-dashed" : "") + (b.hover ? " is-hover" : ""))
          .setAttribute("data-box", i);
        var t = P.tagAt(stage, b.x, b.y, b.name, b.color, (b.selected ? "is-sel" : "") + (b.dashed ? " is-dashed" : ""));
        tags.appendChild(t);
        if (b.selected && !o.readOnly) {
          var c = corners(b);
          CORNERS.forEach(function (k) {
            var h = P.svg("rect", { x: c[k][0] - hs / 2, y: c[k][1] - hs / 2, width: hs, height: hs, class: "bx-handle", "data-handle": k }, g);
            h.style.setProperty("--c", b.color);
          });
        }
      });
      if (drag && drag.kind === "create" && drag.rect) {
        drawBox(g, Object.assign({ color: o.color ? o.color() : "#6366f1" }, drag.rect), "bx is-draft");
      }
      ghost.innerHTML = "";
      ghostItems.forEach(function (b) {
        drawBox(ghost, b, "bx-ghosted");
        tags.appendChild(P.tagAt(stage, b.x, b.y + b.h, b.name, b.color, "is-ghost"));
      });
    };

    self.ghost = function (items) {
      ghostItems = items || [];
      self.render();
    };

    function normal(a, b) {
      var x0 = Math.min(a.x, b.x), y0 = Math.min(a.y, b.y);
      return { x: x0, y: y0, w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
    }

    function hitCorner(b, p) {
      var tol = stage.px(9);
      var c = corners(b);
      for (var i = 0; i < CORNERS.length; i++) {
        var k = CORNERS[i];
        if (Math.abs(p.x - c[k][0]) <= tol && Math.abs(p.y - c[k][1]) <= tol) return k;
      }
      return null;
    }

    // The smallest box under the point: nested boxes stay reachable.
    function hitBox(items, p) {
      var best = -1, area = Infinity;
      var tol = stage.px(3);
      items.forEach(function (b, i) {
        if (p.x >= b.x - tol && p.x <= b.x + b.w + tol && p.y >= b.y - tol && p.y <= b.y + b.h + tol) {
          var a = b.w * b.h;
          if (a < area) { area = a; best = i; }
        }
      });
      return best;
    }

    function cursorFor(p) {
      var items = o.items();
      var sel = items.findIndex(function (b) { return b.selected; });
      if (sel >= 0) {
        var k = hitCorner(items[sel], p);
        if (k) return CURSORS[k];
      }
      return hitBox(items, p) >= 0 ? "move" : "crosshair";
    }

    function showGuide(p) {
      guide.style.display = "";
      gx.setAttribute("x1", 0); gx.setAttribute("x2", stage.W); gx.setAttribute("y1", p.y); gx.setAttribute("y2", p.y);
      gy.setAttribute("y1", 0); gy.setAttribute("y2", stage.H); gy.setAttribute("x1", p.x); gy.setAttribute("x2", p.x);
    }

    function down(ev) {
      if (o.readOnly || ev.button !== 0 || !stage.isReady) return;
      var p = stage.point(ev, true);
      var items = o.items();
      var sel = items.findIndex(function (b) { return b.selected; });
      if (sel >= 0) {
        var k = hitCorner(items[sel], p);
        if (k) {
          var b = items[sel];
          var opposite = { nw: "se", ne: "sw", sw: "ne", se: "nw" }[k];
          var fixed = corners(b)[opposite];
          drag = { kind: "resize", i: sel, fixed: { x: fixed[0], y: fixed[1] }, started: false, sx: ev.clientX, sy: ev.clientY };
        }
      }
      if (!drag) {
        var hit = hitBox(items, p);
        if (hit >= 0) {
          o.select(hit);
          var it = o.items()[hit];
          drag = { kind: "move", i: hit, start: p, orig: { x: it.x, y: it.y, w: it.w, h: it.h }, started: false, sx: ev.clientX, sy: ev.clientY };
        }
      }
      if (!drag) drag = { kind: "create", start: p, rect: null, sx: ev.clientX, sy: ev.clientY };
      stage.svg.setPointerCapture(ev.pointerId);
      ev.preventDefault();
    }

    function move(ev) {
      if (!stage.isReady) return;
      var p = stage.point(ev, true);
      if (!o.readOnly) showGuide(p);
      if (!drag) {
        if (!o.readOnly) stage.svg.style.cursor = cursorFor(p);
        return;
      }
      var far = Math.hypot(ev.clientX - drag.sx, ev.clientY - drag.sy) >= MIN_SCREEN;
      if (drag.kind === "create") {
        if (far || drag.rect) {
          drag.rect = normal(drag.start, p);
          self.render();
        }
        return;
      }
      if (!drag.started) {
        if (!far) return;
        drag.started = true;
        o.move(drag.i, null, "start");
      }
      var rect;
      if (drag.kind === "move") {
        var W = stage.W, H = stage.H, b = drag.orig;
        rect = {
          x: P.clamp(b.x + p.x - drag.start.x, 0, W - b.w),
          y: P.clamp(b.y + p.y - drag.start.y, 0, H - b.h),
          w: b.w,
          h: b.h,
        };
      } else {
        rect = normal(drag.fixed, p);
        rect.w = Math.max(rect.w, stage.px(2));
        rect.h = Math.max(rect.h, stage.px(2));
      }
      drag.rect = rect;
      o.move(drag.i, rect, "drag");
    }

    function up(ev) {
      if (!drag) return;
      var d = drag;
      drag = null;
      try { stage.svg.releasePointerCapture(ev.pointerId); } catch (e) { /* already released */ }
      if (d.kind === "create") {
        var r = d.rect;
        if (r && r.w * stage.scale >= MIN_SCREEN && r.h * stage.scale >= MIN_SCREEN) o.create(r);
        else {
          o.select(-1);
          self.render();
        }
      } else if (d.started && d.rect) {
        o.move(d.i, d.rect, "end");
      }
    }

    stage.svg.addEventListener("pointerdown", down);
    stage.svg.addEventListener("pointermove", move);
    stage.svg.addEventListener("pointerup", up);
    stage.svg.addEventListener("pointercancel", up);
    stage.svg.addEventListener("pointerleave", function () { if (!drag) guide.style.display = "none"; });
    stage.onResize(function () { self.render(); });
    stage.ready(function () { self.render(); });
    self.busy = function () { return !!drag; };
  };
})();
