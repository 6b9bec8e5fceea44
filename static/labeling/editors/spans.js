/* Named entities: select text with the mouse and it becomes a span of the active class; or,
   from the keyboard, move a word cursor with the arrows, stretch it with Shift and mark it
   with M.

   Offsets are CHARACTER offsets into the original text, end exclusive, as Python counts
   characters (code points): JavaScript strings count UTF-16 units, so an emoji is two of
   them. The text is drawn as segments, each knowing the code-point offset it starts at; a
   DOM selection's ends are mapped back through those segments, never through the rendered
   text (the class tags drawn after each span are not part of it). */
(function () {
  "use strict";
  var P = (window.SextantPortal = window.SextantPortal || {});

  function cpLength(s) { return Array.from(s).length; }

  var WORD = /[\p{L}\p{N}\p{M}_]/u;
  var JOINER = /['’.\-]/u;

  // The units the keyboard cursor moves over, as [start, end) code-point offsets: runs of
  // letters and digits (joined across an apostrophe, hyphen or point inside a word: "don't",
  // "e-mail", "3.5"), and every other visible character on its own.
  function tokenize(chars) {
    var out = [];
    var i = 0;
    while (i < chars.length) {
      if (/\s/u.test(chars[i])) { i++; continue; }
      var j = i + 1;
      if (WORD.test(chars[i])) {
        while (j < chars.length && (WORD.test(chars[j]) ||
          (JOINER.test(chars[j]) && j + 1 < chars.length && WORD.test(chars[j + 1])))) j++;
      }
      out.push([i, j]);
      i = j;
    }
    return out;
  }

  P.editors.ner = function (ctx) {
    var labels = ctx.labels;
    var text = ctx.data.text || "";
    var chars = Array.from(text);
    var card = P.el("div", { class: "text-card" }, ctx.stage);
    var body = P.el("div", { class: "text-body ner" + (ctx.readOnly ? " is-readonly" : "") }, card);
    var spans = [];
    var active = 0;
    var history = [];
    var hover = -1;
    var tokens = tokenize(chars);
    // The keyboard selection: tokens from `anchor` to `cursor`; no cursor until an arrow key.
    var cursor = -1;
    var anchor = null;

    (Array.isArray(ctx.initial) ? ctx.initial : []).forEach(function (s) {
      var i = labels.indexOf(s.label);
      if (i >= 0 && s.start >= 0 && s.end <= chars.length && s.start < s.end) spans.push({ label: i, start: s.start, end: s.end });
    });

    function snapshot() {
      history.push(JSON.stringify(spans));
      if (history.length > 200) history.shift();
    }

    function keyRange() {
      if (cursor < 0) return null;
      var from = anchor === null ? cursor : Math.min(anchor, cursor);
      var to = anchor === null ? cursor : Math.max(anchor, cursor);
      return { start: tokens[from][0], end: tokens[to][1] };
    }

    function render() {
      body.innerHTML = "";
      var cuts = [0, chars.length];
      spans.forEach(function (s) { cuts.push(s.start, s.end); });
      var kb = keyRange();
      if (kb) cuts.push(kb.start, kb.end);
      cuts = cuts.filter(function (v, i, a) { return a.indexOf(v) === i; }).sort(function (a, b) { return a - b; });
      for (var k = 0; k + 1 < cuts.length; k++) {
        var a = cuts[k], b = cuts[k + 1];
        var seg = P.el("span", { class: "seg", "data-start": a }, body);
        seg.textContent = chars.slice(a, b).join("");
        if (kb && kb.start <= a && kb.end >= b) seg.classList.add("is-kbd");
        var over = [];
        spans.forEach(function (s, i) { if (s.start <= a && s.end >= b) over.push(i); });
        if (over.length) {
          // The innermost span shows; an outer one under it leaves a line beneath.
          over.sort(function (x, y) { return (spans[x].end - spans[x].start) - (spans[y].end - spans[y].start); });
          var top = spans[over[0]];
          seg.classList.add("ent");
          if (over.length > 1) {
            seg.classList.add("is-nested");
            seg.style.setProperty("--c2", ctx.color(spans[over[1]].label));
          }
          if (over.indexOf(hover) >= 0) seg.classList.add("is-hover");
          seg.style.setProperty("--c", ctx.color(top.label));
          seg.setAttribute("data-span", over[0]);
          seg.title = labels[top.label] + (ctx.readOnly ? "" : " — click to remove");
        }
        // After the last piece of each span, its class.
        spans.forEach(function (s, i) {
          if (s.end === b) {
            var tag = P.el("span", { class: "ent-tag", contenteditable: "false", "data-span": i, "aria-hidden": "true", text: labels[s.label] }, body);
            tag.style.setProperty("--c", ctx.color(s.label));
          }
        });
      }
      if (!chars.length) body.textContent = "(This item has no text.)";
      var first = body.querySelector(".is-kbd");
      if (first && first.scrollIntoView) first.scrollIntoView({ block: "nearest" });
      renderList();
    }

    function renderList() {
      var sorted = spans.map(function (s, i) { return i; }).sort(function (x, y) { return spans[x].start - spans[y].start || spans[x].end - spans[y].end; });
      P.renderList(ctx.list, "Spans", sorted.map(function (i) {
        var s = spans[i];
        return {
          color: ctx.color(s.label),
          name: labels[s.label],
          detail: "“" + chars.slice(s.start, s.end).join("") + "”",
          onDelete: ctx.readOnly ? null : function () { remove(i); },
          onHover: function (on) { hover = on ? i : -1; render(); },
        };
      }), ctx.readOnly ? "No spans." : "Select text, or move with ← → (Shift to stretch) and press M, to mark a span.");
    }

    function remove(i) {
      snapshot();
      spans.splice(i, 1);
      hover = -1;
      changed();
    }

    function changed() {
      render();
      ctx.changed();
    }

    // A DOM boundary point → a code-point offset into the text.
    function offsetOf(node, off) {
      var segs = body.querySelectorAll(".seg");
      for (var k = 0; k < segs.length; k++) {
        var t = segs[k].firstChild;
        var start = Number(segs[k].getAttribute("data-start"));
        if (!t) continue;
        var r = document.createRange();
        r.selectNodeContents(t);
        var c;
        try { c = r.comparePoint(node, off); } catch (e) { return null; }
        if (c < 0) return start;
        if (c === 0) {
          if (node === t) return start + cpLength(t.data.slice(0, off));
          var at = document.createRange();
          at.setStart(t, 0);
          return at.comparePoint(node, off) <= 0 ? start : start + cpLength(t.data);
        }
      }
      return chars.length;
    }

    function mark(a, b) {
      snapshot();
      // The same stretch marked again takes the new class.
      spans = spans.filter(function (s) { return !(s.start === a && s.end === b); });
      spans.push({ label: active, start: a, end: b });
      changed();
    }

    function fromSelection() {
      var sel = window.getSelection();
      if (!sel || sel.isCollapsed || !sel.rangeCount) return false;
      var range = sel.getRangeAt(0);
      if (!body.contains(range.startContainer) && !body.contains(range.endContainer)) return false;
      var a = offsetOf(range.startContainer, range.startOffset);
      var b = offsetOf(range.endContainer, range.endOffset);
      sel.removeAllRanges();
      if (a === null || b === null) return true;
      if (a > b) { var x = a; a = b; b = x; }
      while (a < b && /\s/.test(chars[a])) a++;
      while (b > a && /\s/.test(chars[b - 1])) b--;
      if (a >= b) return true;
      mark(a, b);
      return true;
    }

    // ← → move the word cursor, Shift stretches the selection, Home/End go to either end.
    function move(to, stretch) {
      if (!tokens.length) return;
      var next = Math.max(0, Math.min(to, tokens.length - 1));
      if (!stretch) anchor = null;
      else if (anchor === null) anchor = cursor < 0 ? next : cursor;
      cursor = next;
      render();
    }

    // The innermost span covering the cursor's word.
    function spanAtCursor() {
      if (cursor < 0) return -1;
      var t = tokens[cursor];
      var best = -1;
      spans.forEach(function (s, i) {
        if (s.start < t[1] && s.end > t[0] &&
          (best < 0 || s.end - s.start < spans[best].end - spans[best].start)) best = i;
      });
      return best;
    }

    function onUp(ev) {
      if (ev.button !== 0) return;
      if (fromSelection()) return;
      var hit = ev.target.closest && ev.target.closest("[data-span]");
      if (hit && body.contains(hit)) remove(Number(hit.getAttribute("data-span")));
    }

    if (!ctx.readOnly) document.addEventListener("mouseup", onUp);
    render();

    return {
      mode: "active",
      pick: function (i) {
        active = i;
        ctx.changed();
      },
      selected: function () { return [active]; },
      value: function () {
        return spans.map(function (s) { return { label: labels[s.label], start: s.start, end: s.end }; })
          .sort(function (x, y) { return x.start - y.start || x.end - y.end; });
      },
      check: function () { return null; },
      key: function (ev) {
        if (ev.key === "Escape") {
          var sel = window.getSelection();
          if (sel && !sel.isCollapsed) { sel.removeAllRanges(); return true; }
          if (anchor !== null) { anchor = null; render(); return true; }
          if (cursor >= 0) { cursor = -1; render(); return true; }
          return false;
        }
        if (ctx.readOnly || ev.ctrlKey || ev.metaKey) return false;
        // With no cursor yet (-1), either arrow lands on the first word.
        if (ev.key === "ArrowRight") { move(cursor + 1, ev.shiftKey); return true; }
        if (ev.key === "ArrowLeft") { move(cursor - 1, ev.shiftKey); return true; }
        if (ev.key === "Home") { move(0, ev.shiftKey); return true; }
        if (ev.key === "End") { move(tokens.length - 1, ev.shiftKey); return true; }
        if ((ev.key === "m" || ev.key === "M") && cursor >= 0) {
          var r = keyRange();
          anchor = null;
          mark(r.start, r.end);
          return true;
        }
        if (ev.key === "Delete" || ev.key === "Backspace") {
          var i = spanAtCursor();
          if (i < 0) return false;
          remove(i);
          return true;
        }
        return false;
      },
      undo: function () {
        if (ctx.readOnly || !history.length) return;
        spans = JSON.parse(history.pop());
        changed();
      },
      help: [
        ["1 – 9", "Choose the class of the next span"],
        ["Select text", "Mark it as a span of that class"],
        ["Click a span", "Remove it"],
        ["← →", "Move the word cursor (Home, End: to either end)"],
        ["Shift + ← →", "Stretch the selection word by word"],
        ["M", "Mark the selection as a span of the chosen class"],
        ["Delete", "Remove the span under the cursor"],
        ["Esc", "Clear the selection"],
        ["Z", "Undo"],
      ],
      destroy: function () {
        document.removeEventListener("mouseup", onUp);
        ctx.stage.innerHTML = "";
      },
    };
  };
})();
