/* Bounding boxes: drag on the image to draw one of the active class; select one to move it
   (drag, or the arrow keys), resize it by its corners, change its class (1–9) or delete it.
   Boxes live in the image's original pixels, as they are submitted. */
(function () {
  "use strict";
  var P = (window.SextantPortal = window.SextantPortal || {});

  P.editors.bounding_box = function (ctx) {
    var labels = ctx.labels;
    var stage = new P.ImageStage(ctx.stage, { src: ctx.data.image_url, width: ctx.data.width, height: ctx.data.height });
    var boxes = [];
    var sel = -1;
    var hover = -1;
    var active = 0;
    var history = [];

    (Array.isArray(ctx.initial) ? ctx.initial : []).forEach(function (b) {
      var i = labels.indexOf(b.label);
      if (i >= 0) boxes.push({ label: i, x: +b.x, y: +b.y, w: +b.w, h: +b.h });
    });

    function snapshot() {
      history.push(JSON.stringify({ boxes: boxes, sel: sel }));
      if (history.length > 300) history.shift();
    }

    var layer = new P.BoxLayer(stage, {
      readOnly: ctx.readOnly,
      color: function () { return ctx.color(active); },
      items: function () {
        return boxes.map(function (b, i) {
          return { x: b.x, y: b.y, w: b.w, h: b.h, color: ctx.color(b.label), name: labels[b.label], selected: i === sel, hover: i === hover };
        });
      },
      create: function (r) {
        snapshot();
        boxes.push({ label: active, x: r.x, y: r.y, w: r.w, h: r.h });
        sel = boxes.length - 1;
        changed();
      },
      select: function (i) {
        if (i === sel) return;
        sel = i;
        if (i >= 0) active = boxes[i].label;
        changed();
      },
      move: function (i, r, phase) {
        if (phase === "start") return snapshot();
        Object.assign(boxes[i], { x: r.x, y: r.y, w: r.w, h: r.h });
        if (phase === "end") changed();
        else layer.render();
      },
    });

    function toolbar() {
      if (ctx.readOnly) return;
      ctx.toolbar.hidden = false;
      ctx.toolbar.innerHTML = "";
      var now = P.el("span", { class: "tb-active" }, ctx.toolbar);
      P.el("span", { class: "muted", text: sel >= 0 ? "Selected box:" : "Next box:" }, now);
      P.chip(labels[sel >= 0 ? boxes[sel].label : active], labels, now);
      P.el("span", { class: "tb-hint", text: sel >= 0
        ? "Drag to move · corners resize · 1–9 change its class · Delete removes · Esc deselects"
        : "Drag on the image to draw a box · click a box to select it" }, ctx.toolbar);
    }

    function renderList() {
      P.renderList(ctx.list, "Boxes", boxes.map(function (b, i) {
        return {
          color: ctx.color(b.label),
          name: labels[b.label],
          detail: Math.round(b.w) + " × " + Math.round(b.h) + " at " + Math.round(b.x) + ", " + Math.round(b.y),
          selected: i === sel,
          onSelect: ctx.readOnly ? null : function () { sel = i; active = b.label; changed(); },
          onDelete: ctx.readOnly ? null : function () { remove(i); },
          onHover: function (on) { hover = on ? i : -1; layer.render(); },
        };
      }), ctx.readOnly ? "No boxes." : "Drag on the image to draw the first box.");
    }

    function changed() {
      layer.render();
      renderList();
      toolbar();
      ctx.changed();
    }

    function remove(i) {
      snapshot();
      boxes.splice(i, 1);
      if (sel === i) sel = -1;
      else if (sel > i) sel -= 1;
      hover = -1;
      changed();
    }

    function nudge(dx, dy) {
      var b = boxes[sel];
      snapshot();
      b.x = P.clamp(b.x + dx, 0, stage.W - b.w);
      b.y = P.clamp(b.y + dy, 0, stage.H - b.h);
      changed();
    }

    stage.ready(changed);
    renderList();

    var arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

    return {
      mode: "active",
      pick: function (i) {
        active = i;
        if (sel >= 0 && boxes[sel].label !== i) {
          snapshot();
          boxes[sel].label = i;
        }
        changed();
      },
      selected: function () { return [sel >= 0 ? boxes[sel].label : active]; },
      value: function () {
        var W = stage.W, H = stage.H;
        return boxes.map(function (b) {
          var x = P.clamp(P.round(b.x), 0, W), y = P.clamp(P.round(b.y), 0, H);
          return {
            label: labels[b.label],
            x: x,
            y: y,
            w: Math.max(0.01, Math.min(P.round(b.w), W - x)),
            h: Math.max(0.01, Math.min(P.round(b.h), H - y)),
          };
        });
      },
      check: function () { return stage.isReady ? null : "The image is still loading."; },
      key: function (ev) {
        if (ctx.readOnly || layer.busy()) return false;
        if (sel >= 0 && (ev.key === "Delete" || ev.key === "Backspace")) { remove(sel); return true; }
        if (ev.key === "Escape" && sel >= 0) { sel = -1; changed(); return true; }
        if (ev.key === "Tab" && boxes.length) {
          sel = ev.shiftKey ? (sel <= 0 ? boxes.length - 1 : sel - 1) : (sel + 1) % boxes.length;
          active = boxes[sel].label;
          changed();
          return true;
        }
        if (sel >= 0 && arrows[ev.key]) {
          var step = ev.shiftKey ? 10 : 1;
          nudge(arrows[ev.key][0] * step, arrows[ev.key][1] * step);
          return true;
        }
        return false;
      },
      undo: function () {
        if (ctx.readOnly || !history.length) return;
        var s = JSON.parse(history.pop());
        boxes = s.boxes;
        sel = s.sel < boxes.length ? s.sel : -1;
        changed();
      },
      ghost: function (value) {
        layer.ghost((Array.isArray(value) ? value : []).map(function (b) {
          return { x: +b.x, y: +b.y, w: +b.w, h: +b.h, color: ctx.color(labels.indexOf(b.label)), name: b.label };
        }));
      },
      help: [
        ["Drag", "Draw a box (on the image) or move the one under the pointer"],
        ["1 – 9", "Class of the next box, and of the selected one"],
        ["Tab", "Select the next box (Shift+Tab: the previous)"],
        ["← ↑ → ↓", "Move the selected box by a pixel (with Shift: 10)"],
        ["Delete", "Remove the selected box"],
        ["Esc", "Deselect"],
        ["Z", "Undo"],
      ],
      destroy: function () {
        stage.destroy();
        ctx.stage.innerHTML = "";
      },
    };
  };
})();
