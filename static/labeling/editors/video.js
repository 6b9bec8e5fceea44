/* Video object tracking: the frames one at a time (slider, ← →), tracks of boxes.

   Drawing a box on a frame sets a keyframe of the selected track, or starts a track when
   none is selected (N: start a new one, with the active class). Between two keyframes a
   track's box is interpolated linearly (x, y, w, h) and drawn dashed; moving or resizing it
   on any frame makes that frame a keyframe. A track is submitted with a box for every frame
   from its first keyframe to its last, each saying whether it is a keyframe. */
(function () {
  "use strict";
  var P = (window.SextantPortal = window.SextantPortal || {});

  function keyFrames(t) {
    return Object.keys(t.keys).map(Number).sort(function (a, b) { return a - b; });
  }

  function lerp(a, b, t) { return a + (b - a) * t; }

  // The track's box on frame f: {box, key} or null outside the track.
  function boxAt(t, f) {
    if (t.keys[f]) return { box: t.keys[f], key: true };
    var ks = keyFrames(t);
    if (!ks.length || f < ks[0] || f > ks[ks.length - 1]) return null;
    var a = ks[0], b = ks[ks.length - 1];
    ks.forEach(function (k) {
      if (k < f) a = k;
      if (k > f && k < b) b = k;
    });
    var A = t.keys[a], B = t.keys[b], u = (f - a) / (b - a);
    return { box: { x: lerp(A.x, B.x, u), y: lerp(A.y, B.y, u), w: lerp(A.w, B.w, u), h: lerp(A.h, B.h, u) }, key: false };
  }

  P.editors.video_tracking = function (ctx) {
    var labels = ctx.labels;
    var frames = ctx.data.frames || [];
    var N = frames.length;
    var col = P.el("div", { class: "vid" }, ctx.stage);
    var area = P.el("div", { class: "vid-area" }, col);
    var bar = P.el("div", { class: "vid-bar" }, col);
    var stage = new P.ImageStage(area, { src: frames[0], width: ctx.data.width, height: ctx.data.height });
    // Frames are fetched a little ahead of the one shown (and a few behind), so a long
    // sequence does not download whole before its first frame, yet stepping stays instant.
    var AHEAD = 12, BEHIND = 3;
    var preload = {};
    function warm(at) {
      for (var i = Math.max(0, at - BEHIND); i <= Math.min(N - 1, at + AHEAD); i++) {
        if (!preload[i]) { preload[i] = new Image(); preload[i].src = frames[i]; }
      }
    }
    warm(0);

    var f = 0;
    var tracks = [];
    var sel = null; // the selected track's id
    var fresh = false; // N was pressed: the next box starts a track
    var active = 0;
    var history = [];
    var nextId = 1;
    var visible = [];
    var ghostTracks = [];

    (Array.isArray(ctx.initial) ? ctx.initial : []).forEach(function (t) {
      var i = labels.indexOf(t.label);
      if (i < 0 || !Array.isArray(t.boxes)) return;
      var tr = { id: t.id, label: i, keys: {} };
      var marked = t.boxes.some(function (b) { return b.keyframe !== undefined; });
      t.boxes.forEach(function (b) {
        if (!marked || b.keyframe) tr.keys[b.frame] = { x: +b.x, y: +b.y, w: +b.w, h: +b.h };
      });
      // A stored in-between box that interpolation would not give back is kept as a keyframe.
      t.boxes.forEach(function (b) {
        var got = boxAt(tr, b.frame);
        if (!got || Math.abs(got.box.x - b.x) > 0.5 || Math.abs(got.box.y - b.y) > 0.5 || Math.abs(got.box.w - b.w) > 0.5 || Math.abs(got.box.h - b.h) > 0.5) {
          tr.keys[b.frame] = { x: +b.x, y: +b.y, w: +b.w, h: +b.h };
        }
      });
      if (keyFrames(tr).length) tracks.push(tr);
    });
    tracks.forEach(function (t) { if (typeof t.id === "number" && t.id >= nextId) nextId = t.id + 1; });
    tracks.forEach(function (t) { if (typeof t.id !== "number") t.id = nextId++; });

    function track(id) { return tracks.find(function (t) { return t.id === id; }) || null; }

    function snapshot() {
      history.push(JSON.stringify({ tracks: tracks, sel: sel, nextId: nextId }));
      if (history.length > 300) history.shift();
    }

    var layer = new P.BoxLayer(stage, {
      readOnly: ctx.readOnly,
      color: function () { return ctx.color(active); },
      items: function () {
        visible = [];
        tracks.forEach(function (t) {
          var r = boxAt(t, f);
          if (r) visible.push({ track: t, x: r.box.x, y: r.box.y, w: r.box.w, h: r.box.h, dashed: !r.key, color: ctx.color(t.label), name: "#" + t.id + " " + labels[t.label], selected: t.id === sel });
        });
        return visible;
      },
      create: function (r) {
        snapshot();
        var t = fresh || sel === null ? null : track(sel);
        if (!t) {
          t = { id: nextId++, label: active, keys: {} };
          tracks.push(t);
          sel = t.id;
        }
        fresh = false;
        t.keys[f] = { x: r.x, y: r.y, w: r.w, h: r.h };
        changed();
      },
      select: function (i) {
        var id = i >= 0 ? visible[i].track.id : null;
        fresh = false;
        if (id === sel) return;
        sel = id;
        if (id !== null) active = track(id).label;
        changed();
      },
      move: function (i, r, phase) {
        if (phase === "start") return snapshot();
        visible[i].track.keys[f] = { x: r.x, y: r.y, w: r.w, h: r.h };
        if (phase === "end") changed();
        else layer.render();
      },
    });

    // ------------------------------------------------------------------ the frame bar
    var controls = P.el("div", { class: "vid-controls vid-grid" }, bar);
    var buttons = P.el("div", { class: "vid-buttons" }, controls);
    // Drawn, not typed: media-control characters are missing from many fonts.
    var ICONS = {
      first: '<path d="M7 6v12M18 6l-8 6 8 6z"/>',
      prev: '<path d="M16 6l-9 6 9 6z"/>',
      next: '<path d="M8 6l9 6-9 6z"/>',
      last: '<path d="M17 6v12M6 6l8 6-8 6z"/>',
    };
    function ctl(icon, title, onClick) {
      var b = P.el("button", { type: "button", class: "btn btn-sm vid-btn", title: title, "aria-label": title }, buttons);
      b.innerHTML = '<svg class="icon" viewBox="0 0 24 24">' + ICONS[icon] + "</svg>";
      b.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
      b.addEventListener("click", onClick);
      return b;
    }
    ctl("first", "First frame (Home)", function () { go(0); });
    ctl("prev", "Previous frame (←)", function () { go(f - 1); });
    ctl("next", "Next frame (→)", function () { go(f + 1); });
    ctl("last", "Last frame (End)", function () { go(N - 1); });
    var slider = P.el("input", { type: "range", min: 0, max: Math.max(0, N - 1), value: 0, step: 1, class: "vid-slider", "aria-label": "Frame" }, controls);
    var where = P.el("span", { class: "vid-where" }, controls);
    slider.addEventListener("input", function () { go(Number(slider.value)); });
    slider.addEventListener("change", function () { slider.blur(); });
    var lanes = P.el("div", { class: "vid-lanes" }, bar);

    function renderLanes() {
      lanes.innerHTML = "";
      var denom = Math.max(1, N - 1);
      tracks.forEach(function (t) {
        var ks = keyFrames(t);
        var lane = P.el("div", { class: "vid-lane vid-grid" + (t.id === sel ? " is-sel" : "") }, lanes);
        lane.style.setProperty("--c", ctx.color(t.label));
        P.el("span", { class: "vid-lane-name", text: "#" + t.id + " " + labels[t.label] }, lane);
        var rail = P.el("div", { class: "vid-lane-track" }, lane);
        if (ks.length) {
          var span = P.el("span", { class: "vid-span" }, rail);
          span.style.left = (ks[0] / denom) * 100 + "%";
          span.style.width = ((ks[ks.length - 1] - ks[0]) / denom) * 100 + "%";
        }
        ks.forEach(function (k) {
          var d = P.el("span", { class: "vid-key", title: "Keyframe " + (k + 1) }, rail);
          d.style.left = (k / denom) * 100 + "%";
        });
        var head = P.el("span", { class: "vid-head" }, rail);
        head.style.left = (f / denom) * 100 + "%";
        P.el("span", { class: "vid-lane-n", text: ks.length + (ks.length === 1 ? " key" : " keys") }, lane);
        lane.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
        lane.addEventListener("click", function (ev) {
          var r = rail.getBoundingClientRect();
          if (ev.clientX >= r.left && ev.clientX <= r.right) go(Math.round(((ev.clientX - r.left) / r.width) * denom));
          sel = t.id;
          active = t.label;
          fresh = false;
          changed();
        });
      });
      lanes.hidden = !tracks.length;
    }

    function renderBar() {
      slider.value = String(f);
      where.textContent = "Frame " + (f + 1) + " / " + N;
      renderLanes();
    }

    function toolbar() {
      if (ctx.readOnly) return;
      var tb = ctx.toolbar;
      tb.hidden = false;
      tb.innerHTML = "";
      var now = P.el("span", { class: "tb-active" }, tb);
      var t = sel !== null && !fresh ? track(sel) : null;
      P.el("span", { class: "muted", text: t ? "Track #" + t.id + ":" : "New track:" }, now);
      P.chip(labels[t ? t.label : active], labels, now);
      P.el("span", { class: "tb-hint", text: t
        ? "Draw or adjust its box on any frame to set a keyframe · N starts a new track · Esc deselects"
        : "Draw a box to start a track" }, tb);
    }

    function renderList() {
      P.renderList(ctx.list, "Tracks", tracks.map(function (t) {
        var ks = keyFrames(t);
        return {
          color: ctx.color(t.label),
          name: "#" + t.id + " " + labels[t.label],
          detail: "frames " + (ks[0] + 1) + "–" + (ks[ks.length - 1] + 1) + " · " + ks.length + (ks.length === 1 ? " keyframe" : " keyframes"),
          selected: t.id === sel,
          onSelect: function () { sel = t.id; active = t.label; fresh = false; if (!boxAt(t, f)) go(ks[0]); changed(); },
          onDelete: ctx.readOnly ? null : function () { removeTrack(t.id); },
        };
      }), ctx.readOnly ? "No tracks." : "Draw a box on a frame to start a track.");
    }

    function changed() {
      layer.render();
      renderBar();
      renderList();
      toolbar();
      ctx.changed();
    }

    function go(n) {
      if (!N) return;
      f = P.clamp(n, 0, N - 1);
      stage.setSrc(frames[f]);
      warm(f);
      if (ghostTracks.length) ghost();
      else layer.render();
      renderBar();
    }

    function removeTrack(id) {
      snapshot();
      tracks = tracks.filter(function (t) { return t.id !== id; });
      if (sel === id) sel = null;
      changed();
    }

    function ghost() {
      layer.ghost(ghostTracks.map(function (t) {
        var b = (t.boxes || []).find(function (x) { return x.frame === f; });
        return b ? { x: +b.x, y: +b.y, w: +b.w, h: +b.h, color: ctx.color(labels.indexOf(t.label)), name: t.label } : null;
      }).filter(Boolean));
    }

    stage.ready(changed);
    renderBar();

    return {
      mode: "active",
      pick: function (i) {
        active = i;
        var t = sel !== null && !fresh ? track(sel) : null;
        if (t && t.label !== i) {
          snapshot();
          t.label = i;
        }
        changed();
      },
      selected: function () {
        var t = sel !== null && !fresh ? track(sel) : null;
        return [t ? t.label : active];
      },
      value: function () {
        var W = stage.W, H = stage.H;
        return tracks.filter(function (t) { return keyFrames(t).length; }).map(function (t) {
          var ks = keyFrames(t);
          var boxes = [];
          for (var k = ks[0]; k <= ks[ks.length - 1]; k++) {
            var r = boxAt(t, k);
            var x = P.clamp(P.round(r.box.x), 0, W), y = P.clamp(P.round(r.box.y), 0, H);
            boxes.push({
              frame: k,
              x: x,
              y: y,
              w: Math.max(0.01, Math.min(P.round(r.box.w), W - x)),
              h: Math.max(0.01, Math.min(P.round(r.box.h), H - y)),
              keyframe: r.key,
            });
          }
          return { id: t.id, label: labels[t.label], boxes: boxes };
        });
      },
      check: function () { return stage.isReady ? null : "The frames are still loading."; },
      key: function (ev) {
        var k = ev.key;
        var step = ev.shiftKey ? 10 : 1;
        if (k === "ArrowRight" || k === ".") { go(f + step); return true; }
        if (k === "ArrowLeft" || k === ",") { go(f - step); return true; }
        if (k === "Home") { go(0); return true; }
        if (k === "End") { go(N - 1); return true; }
        if (ctx.readOnly || layer.busy()) return false;
        var t = sel !== null ? track(sel) : null;
        if (k === "n" || k === "N") {
          fresh = true;
          ctx.hint("Draw the new track's first box.");
          changed();
          return true;
        }
        if (k === "Escape" && (sel !== null || fresh)) { sel = null; fresh = false; changed(); return true; }
        if (t && (k === "Delete" || k === "Backspace")) {
          if (ev.shiftKey || keyFrames(t).length === 1 && t.keys[f]) { removeTrack(t.id); return true; }
          if (!t.keys[f]) { ctx.hint("This frame is not a keyframe of track #" + t.id + " (Shift+Delete removes the track)."); return true; }
          snapshot();
          delete t.keys[f];
          changed();
          return true;
        }
        if (t && (k === "k" || k === "K")) {
          var r = boxAt(t, f);
          if (r && !r.key) {
            snapshot();
            t.keys[f] = r.box;
            changed();
          }
          return true;
        }
        if (k === "Tab") {
          var here = tracks.filter(function (x) { return boxAt(x, f); });
          if (!here.length) return true;
          var at = here.findIndex(function (x) { return x.id === sel; });
          var next = here[(at + (ev.shiftKey ? -1 : 1) + here.length) % here.length];
          sel = next.id;
          active = next.label;
          fresh = false;
          changed();
          return true;
        }
        return false;
      },
      undo: function () {
        if (ctx.readOnly || !history.length) return;
        var s = JSON.parse(history.pop());
        tracks = s.tracks;
        sel = s.sel;
        nextId = s.nextId;
        changed();
      },
      ghost: function (value) {
        ghostTracks = Array.isArray(value) ? value : [];
        ghost();
      },
      help: [
        ["← or →", "Previous or next frame (with Shift: 10 frames)"],
        ["Home or End", "First or last frame"],
        ["Drag", "Draw the selected track's box on this frame (a keyframe)"],
        ["N", "Start a new track with the active class"],
        ["1 – 9", "Class of a new track, and of the selected one"],
        ["Tab", "Select the next track on this frame"],
        ["K", "Make the interpolated box here a keyframe"],
        ["Delete", "Remove this keyframe (Shift+Delete: the whole track)"],
        ["Esc", "Deselect"],
        ["Z", "Undo"],
      ],
      destroy: function () {
        preload = {};
        stage.destroy();
        ctx.stage.innerHTML = "";
      },
    };
  };
})();
