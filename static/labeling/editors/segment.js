/* Semantic segmentation: polygons (click points; Enter, or a click on the first point, closes
   one) and a brush (B) that paints the active class ([ and ] change its size; Shift+drag
   erases paint).

   Polygons are submitted as {label, points}. Brush paint is submitted per class as a mask
   {label, rle, size: [height, width]}: the paint is rasterised at the image's ORIGINAL size
   in an offscreen canvas, one class at a time, in the order it was painted (a later stroke
   of another class, or an erasing stroke, takes the pixel away), then run-length encoded row
   by row, starting with a run of background. */
(function () {
  "use strict";
  var P = (window.SextantPortal = window.SextantPortal || {});

  // Row-major runs of a binary mask (alpha ≥ 128), starting with background; null if empty.
  function encode(alpha, n) {
    var runs = [];
    var on = false, run = 0, any = false;
    for (var i = 0; i < n; i++) {
      var v = alpha[i * 4 + 3] >= 128;
      if (v !== on) {
        runs.push(run);
        run = 0;
        on = v;
      }
      if (v) any = true;
      run++;
    }
    runs.push(run);
    return any ? runs : null;
  }

  // A mask from runs, as a canvas painted black where it is set.
  function decode(runs, w, h) {
    var c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    var g = c.getContext("2d");
    var img = g.createImageData(w, h);
    var pos = 0;
    for (var k = 0; k < runs.length; k++) {
      var end = Math.min(pos + runs[k], w * h);
      if (k % 2 === 1) for (var i = pos; i < end; i++) img.data[i * 4 + 3] = 255;
      pos = end;
    }
    g.putImageData(img, 0, 0);
    return c;
  }

  function tinted(mask, color) {
    var c = document.createElement("canvas");
    c.width = mask.width;
    c.height = mask.height;
    var g = c.getContext("2d");
    g.drawImage(mask, 0, 0);
    g.globalCompositeOperation = "source-in";
    g.fillStyle = color;
    g.fillRect(0, 0, c.width, c.height);
    return c;
  }

  function strokePath(g, s, color) {
    g.strokeStyle = color;
    g.fillStyle = color;
    g.lineWidth = s.size;
    g.lineCap = "round";
    g.lineJoin = "round";
    if (s.points.length === 1) {
      g.beginPath();
      g.arc(s.points[0][0], s.points[0][1], s.size / 2, 0, Math.PI * 2);
      g.fill();
      return;
    }
    g.beginPath();
    g.moveTo(s.points[0][0], s.points[0][1]);
    for (var i = 1; i < s.points.length; i++) g.lineTo(s.points[i][0], s.points[i][1]);
    g.stroke();
  }

  P.editors.semantic_segmentation = function (ctx) {
    var labels = ctx.labels;
    var stage = new P.ImageStage(ctx.stage, { src: ctx.data.image_url, width: ctx.data.width, height: ctx.data.height });
    var paint = P.el("canvas", { class: "seg-paint" });
    stage.wrap.insertBefore(paint, stage.svg);
    var gGhost = P.svg("g", { class: "seg-ghost" }, stage.svg);
    var gPoly = P.svg("g", { class: "seg-polys" }, stage.svg);
    var gDraft = P.svg("g", { class: "seg-draft" }, stage.svg);
    var cursor = P.svg("circle", { class: "seg-cursor" }, stage.svg);
    cursor.style.display = "none";

    // shapes in the order they were made: {type: "poly", label, points} |
    // {type: "stroke", label, size, points, erase} | {type: "mask", label, mask}
    var shapes = [];
    var tool = "polygon";
    var brush = 0; // image pixels, set once the image's size is known
    var active = 0;
    var draft = null; // the polygon being drawn: [[x, y], ...]
    var stroke = null;
    var pointer = null;
    var history = [];
    var hover = -1;
    var ghostValue = null;

    function snapshot() {
      history.push(shapes.slice().map(function (s) {
        return s.type === "mask" ? s : Object.assign({}, s, { points: s.points.slice() });
      }));
      if (history.length > 100) history.shift();
    }

    stage.ready(function () {
      paint.width = stage.W;
      paint.height = stage.H;
      brush = Math.max(2, Math.round(Math.min(stage.W, stage.H) / 30));
      (Array.isArray(ctx.initial) ? ctx.initial : []).forEach(function (s) {
        var i = labels.indexOf(s.label);
        if (i < 0) return;
        if (Array.isArray(s.points)) shapes.push({ type: "poly", label: i, points: s.points.map(function (p) { return [+p[0], +p[1]]; }) });
        else if (Array.isArray(s.rle) && s.size && s.size[0] === stage.H && s.size[1] === stage.W) {
          shapes.push({ type: "mask", label: i, mask: decode(s.rle, stage.W, stage.H) });
        }
      });
      changed();
    });

    // ----------------------------------------------------------------------- drawing
    function repaint() {
      var g = paint.getContext("2d");
      g.globalCompositeOperation = "source-over";
      g.clearRect(0, 0, paint.width, paint.height);
      shapes.forEach(function (s) {
        if (s.type === "mask") {
          g.globalCompositeOperation = "source-over";
          if (!s.tint || s.tintFor !== s.label) { s.tint = tinted(s.mask, ctx.color(s.label)); s.tintFor = s.label; }
          g.drawImage(s.tint, 0, 0);
        } else if (s.type === "stroke") {
          g.globalCompositeOperation = s.erase ? "destination-out" : "source-over";
          strokePath(g, s, ctx.color(s.label));
        }
      });
      g.globalCompositeOperation = "source-over";
    }

    function pointsAttr(points) {
      return points.map(function (p) { return p[0] + "," + p[1]; }).join(" ");
    }

    function renderShapes() {
      gPoly.innerHTML = "";
      shapes.forEach(function (s, i) {
        if (s.type !== "poly") return;
        var el = P.svg("polygon", { points: pointsAttr(s.points), class: "seg-poly" + (i === hover ? " is-hover" : "") }, gPoly);
        el.style.setProperty("--c", ctx.color(s.label));
      });
      gGhost.innerHTML = "";
      (Array.isArray(ghostValue) ? ghostValue : []).forEach(function (s) {
        if (!Array.isArray(s.points)) return;
        var el = P.svg("polygon", { points: pointsAttr(s.points), class: "seg-ghosted" }, gGhost);
        el.style.setProperty("--c", ctx.color(labels.indexOf(s.label)));
      });
    }

    function renderDraft() {
      gDraft.innerHTML = "";
      if (!draft) return;
      var color = ctx.color(active);
      var pts = draft.slice();
      if (pointer) pts.push([pointer.x, pointer.y]);
      var line = P.svg("polyline", { points: pointsAttr(pts), class: "seg-draft-line" }, gDraft);
      line.style.setProperty("--c", color);
      var r = stage.px(4.5);
      draft.forEach(function (p, i) {
        var dot = P.svg("circle", { cx: p[0], cy: p[1], r: i === 0 ? r * 1.5 : r, class: "seg-vertex" + (i === 0 ? " is-first" : "") }, gDraft);
        dot.style.setProperty("--c", color);
      });
    }

    function renderCursor() {
      if (tool !== "brush" || !pointer || ctx.readOnly) {
        cursor.style.display = "none";
        return;
      }
      cursor.style.display = "";
      cursor.setAttribute("cx", pointer.x);
      cursor.setAttribute("cy", pointer.y);
      cursor.setAttribute("r", brush / 2);
      cursor.style.setProperty("--c", ctx.color(active));
    }

    function toolbar() {
      if (ctx.readOnly) return;
      var tb = ctx.toolbar;
      tb.hidden = false;
      tb.innerHTML = "";
      var tools = P.el("div", { class: "tb-tools", role: "group", "aria-label": "Tool" }, tb);
      [["polygon", "Polygon"], ["brush", "Brush"]].forEach(function (t) {
        var b = P.el("button", { type: "button", class: "tb-tool" + (tool === t[0] ? " is-on" : ""), "data-tool": t[0] }, tools);
        P.el("span", { text: t[1] }, b);
        if (t[0] === "brush") P.kbd("B", b);
        b.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
        b.addEventListener("click", function () { setTool(t[0]); });
      });
      if (tool === "brush") {
        var size = P.el("span", { class: "tb-size" }, tb);
        P.kbd("[", size);
        P.el("span", { text: Math.round(brush) + " px" }, size);
        P.kbd("]", size);
      }
      var now = P.el("span", { class: "tb-active" }, tb);
      P.chip(labels[active], labels, now);
      P.el("span", { class: "tb-hint", text: tool === "brush"
        ? "Drag to paint · Shift+drag erases paint"
        : draft ? "Click to add points · click the first point or press Enter to close · Backspace removes a point"
        : "Click on the image to start a polygon" }, tb);
    }

    function renderList() {
      var rows = [];
      var painted = {};
      shapes.forEach(function (s, i) {
        if (s.type === "poly") {
          rows.push({
            color: ctx.color(s.label),
            name: labels[s.label],
            detail: "Polygon · " + s.points.length + " points",
            onDelete: ctx.readOnly ? null : function () { snapshot(); shapes.splice(i, 1); hover = -1; changed(); },
            onHover: function (on) { hover = on ? i : -1; renderShapes(); },
          });
        } else if (!s.erase && !painted[s.label]) {
          painted[s.label] = true;
          rows.push({
            color: ctx.color(s.label),
            name: labels[s.label],
            detail: "Brush paint",
            onDelete: ctx.readOnly ? null : function () {
              snapshot();
              var label = s.label;
              shapes = shapes.filter(function (t) { return t.type === "poly" || t.erase || t.label !== label; });
              changed();
            },
          });
        }
      });
      P.renderList(ctx.list, "Shapes", rows, ctx.readOnly ? "No shapes." : "Click on the image to start a polygon, or press B to paint.");
    }

    function changed() {
      repaint();
      renderShapes();
      renderDraft();
      renderCursor();
      renderList();
      toolbar();
      ctx.changed();
    }

    function setTool(t) {
      tool = t;
      draft = null;
      stage.svg.style.cursor = tool === "brush" ? "none" : "crosshair";
      changed();
    }

    function closeDraft() {
      if (!draft || draft.length < 3) {
        ctx.hint("A polygon needs at least three points.");
        return;
      }
      snapshot();
      shapes.push({ type: "poly", label: active, points: draft });
      draft = null;
      changed();
    }

    // --------------------------------------------------------------------- pointer
    function down(ev) {
      if (ctx.readOnly || ev.button !== 0 || !stage.isReady) return;
      var p = stage.point(ev, true);
      ev.preventDefault();
      if (tool === "brush") {
        snapshot();
        stroke = { type: "stroke", label: active, size: brush, points: [[P.round(p.x), P.round(p.y)]], erase: ev.shiftKey };
        shapes.push(stroke);
        stage.svg.setPointerCapture(ev.pointerId);
        repaint();
        return;
      }
      if (draft && draft.length >= 3) {
        var first = draft[0];
        if (Math.hypot(first[0] - p.x, first[1] - p.y) <= stage.px(9)) return closeDraft();
      }
      if (!draft) draft = [];
      draft.push([P.round(p.x), P.round(p.y)]);
      renderDraft();
      toolbar();
    }

    function move(ev) {
      if (!stage.isReady) return;
      pointer = stage.point(ev, true);
      if (stroke) {
        var last = stroke.points[stroke.points.length - 1];
        if (Math.hypot(last[0] - pointer.x, last[1] - pointer.y) >= stage.px(1.5)) {
          stroke.points.push([P.round(pointer.x), P.round(pointer.y)]);
          var g = paint.getContext("2d");
          g.globalCompositeOperation = stroke.erase ? "destination-out" : "source-over";
          strokePath(g, { size: stroke.size, points: [last, stroke.points[stroke.points.length - 1]] }, ctx.color(stroke.label));
          g.globalCompositeOperation = "source-over";
        }
      }
      if (draft) renderDraft();
      renderCursor();
    }

    function up(ev) {
      if (!stroke) return;
      stroke = null;
      try { stage.svg.releasePointerCapture(ev.pointerId); } catch (e) { /* released */ }
      changed();
    }

    stage.svg.addEventListener("pointerdown", down);
    stage.svg.addEventListener("pointermove", move);
    stage.svg.addEventListener("pointerup", up);
    stage.svg.addEventListener("pointercancel", up);
    stage.svg.addEventListener("pointerleave", function () { pointer = null; renderCursor(); renderDraft(); });
    stage.onResize(function () { renderDraft(); });
    stage.svg.style.cursor = ctx.readOnly ? "default" : "crosshair";

    // -------------------------------------------------------------------- the answer
    function rasterise(label) {
      var c = document.createElement("canvas");
      c.width = stage.W;
      c.height = stage.H;
      var g = c.getContext("2d", { willReadFrequently: true });
      var any = false;
      shapes.forEach(function (s) {
        if (s.type === "poly") return;
        var mine = s.label === label && !s.erase;
        if (mine) any = true;
        g.globalCompositeOperation = mine ? "source-over" : "destination-out";
        if (s.type === "mask") g.drawImage(s.mask, 0, 0);
        else strokePath(g, s, "#000");
      });
      if (!any) return null;
      return encode(g.getImageData(0, 0, stage.W, stage.H).data, stage.W * stage.H);
    }

    return {
      mode: "active",
      pick: function (i) {
        active = i;
        changed();
      },
      selected: function () { return [active]; },
      value: function () {
        var out = [];
        shapes.forEach(function (s) {
          if (s.type === "poly") out.push({ label: labels[s.label], points: s.points.map(function (p) { return [P.round(p[0]), P.round(p[1])]; }) });
        });
        labels.forEach(function (name, i) {
          var runs = rasterise(i);
          if (runs) out.push({ label: name, rle: runs, size: [stage.H, stage.W] });
        });
        return out;
      },
      check: function () {
        if (!stage.isReady) return "The image is still loading.";
        if (draft) return "Close the polygon first (Enter), or drop it (Esc).";
        return null;
      },
      key: function (ev) {
        if (ctx.readOnly) return false;
        var k = ev.key;
        if (k === "b" || k === "B") { setTool(tool === "brush" ? "polygon" : "brush"); return true; }
        if (k === "[" || k === "]") {
          var max = Math.max(4, Math.min(stage.W, stage.H) / 2);
          brush = P.clamp(k === "]" ? brush * 1.25 + 0.5 : brush / 1.25, 1, max);
          renderCursor();
          toolbar();
          return true;
        }
        if (draft) {
          if (k === "Enter") { closeDraft(); return true; }
          if (k === "Escape") { draft = null; changed(); return true; }
          if (k === "Backspace" || k === "z" || k === "Z") {
            draft.pop();
            if (!draft.length) draft = null;
            renderDraft();
            toolbar();
            return true;
          }
        }
        return false;
      },
      undo: function () {
        if (ctx.readOnly) return;
        if (draft) {
          draft.pop();
          if (!draft.length) draft = null;
          return changed();
        }
        if (!history.length) return;
        shapes = history.pop();
        changed();
      },
      ghost: function (value) {
        ghostValue = value;
        renderShapes();
      },
      help: [
        ["Click", "Add a polygon point (on the first point: close it)"],
        ["Enter", "Close the polygon (when none is open: submit)"],
        ["Backspace", "Remove the polygon's last point"],
        ["Esc", "Drop the polygon being drawn"],
        ["B", "Brush or polygon tool"],
        ["[ or ]", "Smaller or bigger brush"],
        ["Shift+drag", "Erase paint (brush)"],
        ["1 – 9", "Class to draw or paint with"],
        ["Z", "Undo"],
      ],
      destroy: function () {
        stage.destroy();
        ctx.stage.innerHTML = "";
      },
    };
  };
})();
