/* Classification editors: one class (text_classification, image_classification) or any
   number of them (text_multilabel, image_multilabel). Number keys and the label buttons
   choose (or toggle); ← → walk the classes past the ninth, Space toggles the one under the
   cursor in multi-label mode. */
(function () {
  "use strict";
  var P = (window.SextantPortal = window.SextantPortal || {});

  function showItem(ctx) {
    if (ctx.data.image_url) {
      var stage = new P.ImageStage(ctx.stage, { src: ctx.data.image_url, width: ctx.data.width, height: ctx.data.height });
      stage.svg.style.pointerEvents = "none";
      return stage;
    }
    P.showText(ctx.stage, ctx.data.text);
    return null;
  }

  function choice(ctx, multi) {
    var labels = ctx.labels;
    var stage = showItem(ctx);
    var chosen = [];
    var cursor = -1; // multi-label: the class ← → point at
    var history = [];
    var init = ctx.initial;
    if (multi && Array.isArray(init)) {
      chosen = init.map(function (n) { return labels.indexOf(n); }).filter(function (i) { return i >= 0; });
    } else if (!multi && typeof init === "string" && labels.indexOf(init) >= 0) {
      chosen = [labels.indexOf(init)];
    }

    function set(next) {
      history.push(chosen.slice());
      chosen = next;
      ctx.changed();
    }

    var editor = {
      mode: multi ? "toggle" : "choose",
      pick: function (i) {
        if (ctx.readOnly) return;
        if (!multi) return set([i]);
        var at = chosen.indexOf(i);
        var next = chosen.slice();
        if (at >= 0) next.splice(at, 1);
        else next.push(i);
        set(next);
      },
      selected: function () { return chosen.slice(); },
      cursor: function () { return multi ? cursor : -1; },
      value: function () {
        if (!multi) return chosen.length ? labels[chosen[0]] : null;
        return chosen.slice().sort(function (a, b) { return a - b; }).map(function (i) { return labels[i]; });
      },
      check: function () {
        if (!multi && !chosen.length) return "Choose a class first: press its number, or click it.";
        return null;
      },
      key: function (ev) {
        if (ctx.readOnly) return false;
        var n = labels.length;
        if (ev.key === "ArrowRight" || ev.key === "ArrowLeft" || ev.key === "ArrowDown" || ev.key === "ArrowUp") {
          var step = ev.key === "ArrowRight" || ev.key === "ArrowDown" ? 1 : -1;
          if (!multi) {
            var from = chosen.length ? chosen[0] : step > 0 ? -1 : n;
            set([(from + step + n) % n]);
          } else {
            cursor = ((cursor < 0 ? (step > 0 ? -1 : n) : cursor) + step + n) % n;
            ctx.changed();
          }
          return true;
        }
        if (multi && ev.key === " " && cursor >= 0) {
          editor.pick(cursor);
          return true;
        }
        return false;
      },
      undo: function () {
        if (!history.length) return;
        chosen = history.pop();
        ctx.changed();
      },
      help: multi
        ? [["1 – 9", "Turn a class on or off"], ["← or →", "Move between classes"], ["Space", "Turn the class under the cursor on or off"], ["Enter", "Submit (no class at all is an answer too)"]]
        : [["1 – 9", "Choose a class"], ["← or →", "Previous or next class"], ["Enter", "Submit"]],
      destroy: function () {
        if (stage) stage.destroy();
        ctx.stage.innerHTML = "";
      },
    };

    return editor;
  }

  P.editors.text_classification = function (ctx) { return choice(ctx, false); };
  P.editors.image_classification = P.editors.text_classification;
  P.editors.text_multilabel = function (ctx) { return choice(ctx, true); };
  P.editors.image_multilabel = P.editors.text_multilabel;
})();
