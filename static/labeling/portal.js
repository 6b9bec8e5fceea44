/* The labeling portal's task page: one task at a time, driven by the REST API with the
   session (next task, submit, skip, the labeler's own numbers).

   The shell here owns the task loop, the label bar, Submit / Skip, the timer, the counters,
   the side panel and the keyboard. What is labeled and how is an editor's business: one per
   label kind in static/labeling/editors/, registered as SextantPortal.editors[kind]. An
   editor is made with a context
     {stage, toolbar, list, data, labels, color, initial, readOnly, changed, hint}
   and answers with
     {mode: "choose"|"toggle"|"active", pick(i), selected(), cursor()?, value(), check(),
      key(ev), undo(), help: [[keys, what]], ghost(value)?, destroy()}
   where key(ev) returns true when it used the key (the shell then does nothing with it), and
   check() returns a message when the answer cannot be submitted yet. */
(function () {
  "use strict";
  var P = (window.SextantPortal = window.SextantPortal || {});
  P.editors = P.editors || {};

  // --------------------------------------------------------------- helpers the editors share
  var PALETTE = [
    "#6366f1", "#10b981", "#f59e0b", "#ef4444", "#0ea5e9", "#a855f7",
    "#84cc16", "#f97316", "#14b8a6", "#ec4899", "#64748b", "#ca8a04",
  ];
  P.color = function (i) {
    if (i >= 0 && i < PALETTE.length) return PALETTE[i];
    return "hsl(" + Math.round((i * 137.508) % 360) + ", 62%, 48%)";
  };

  P.el = function (tag, attrs, parent) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : v);
    });
    if (parent) parent.appendChild(node);
    return node;
  };

  P.svg = function (tag, attrs, parent) {
    var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    });
    if (parent) parent.appendChild(node);
    return node;
  };

  P.round = function (v) { return Math.round(v * 100) / 100; };
  P.clamp = function (v, lo, hi) { return Math.max(lo, Math.min(hi, v)); };

  P.kbd = function (text, parent) { return P.el("kbd", { text: text }, parent); };

  // A class name as a small coloured chip.
  P.chip = function (name, labels, parent) {
    var i = labels.indexOf(name);
    var c = P.el("span", { class: "lchip", text: name }, parent);
    c.style.setProperty("--c", P.color(i));
    return c;
  };

  // The editor's list of what was drawn, in the side panel.
  // rows: [{color, name, detail, selected, onSelect, onDelete, onHover}]
  P.renderList = function (box, title, rows, empty) {
    if (!box) return;
    box.innerHTML = "";
    box.hidden = false;
    var head = P.el("h3", { class: "p-sec-title" }, box);
    P.el("span", { text: title }, head);
    P.el("span", { class: "n", text: String(rows.length) }, head);
    if (!rows.length) {
      P.el("p", { class: "p-sec-empty", text: empty }, box);
      return;
    }
    var ul = P.el("ul", { class: "shape-list" }, box);
    rows.forEach(function (r) {
      var li = P.el("li", { class: r.selected ? "is-sel" : "" }, ul);
      li.style.setProperty("--c", r.color);
      P.el("span", { class: "dot" }, li);
      var t = P.el("span", { class: "what" }, li);
      P.el("span", { class: "name", text: r.name }, t);
      if (r.detail) P.el("span", { class: "detail", text: r.detail }, t);
      if (r.onSelect) li.addEventListener("click", r.onSelect);
      if (r.onHover) {
        li.addEventListener("mouseenter", function () { r.onHover(true); });
        li.addEventListener("mouseleave", function () { r.onHover(false); });
      }
      if (r.onDelete) {
        var x = P.el("button", { class: "del", type: "button", title: "Remove", "aria-label": "Remove " + r.name, text: "×" }, li);
        x.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
        x.addEventListener("click", function (ev) { ev.stopPropagation(); r.onDelete(); });
      }
    });
  };

  // The item as it is shown when there is nothing to draw on it: text, or an image.
  P.showText = function (stage, text) {
    var card = P.el("div", { class: "text-card" }, stage);
    var body = P.el("div", { class: "text-body" }, card);
    body.textContent = text || "";
    if (!text) body.classList.add("is-empty");
    return body;
  };

  // How a label reads in the side panel (other labelers' answers, the current label).
  P.describe = function (kind, value, labels, data) {
    var box = P.el("div", { class: "desc" });
    function chips(names) {
      var counts = {};
      names.forEach(function (n) { counts[n] = (counts[n] || 0) + 1; });
      Object.keys(counts).forEach(function (n) {
        var c = P.chip(n, labels, box);
        if (counts[n] > 1) P.el("span", { class: "x", text: " ×" + counts[n] }, c);
      });
    }
    if (value && typeof value === "object" && !Array.isArray(value) && value.verdict) {
      if (value.verdict === "accept") {
        P.el("span", { class: "verdict is-accept", text: "Accepted the proposal" }, box);
      } else {
        P.el("span", { class: "verdict is-adjust", text: "Adjusted to" }, box);
        box.appendChild(P.describe(kind, value.label, labels, data));
      }
      return box;
    }
    if (value === null || value === undefined) {
      P.el("span", { class: "muted", text: "No label" }, box);
    } else if (kind === "text_classification" || kind === "image_classification") {
      P.chip(String(value), labels, box);
    } else if (kind === "text_multilabel" || kind === "image_multilabel") {
      if (!value.length) P.el("span", { class: "muted", text: "No class applies" }, box);
      chips(value);
    } else if (kind === "ner") {
      if (!value.length) P.el("span", { class: "muted", text: "No spans" }, box);
      var chars = Array.from((data && data.text) || "");
      var ul = P.el("ul", { class: "desc-spans" }, box);
      value.slice(0, 8).forEach(function (s) {
        var li = P.el("li", {}, ul);
        P.chip(s.label, labels, li);
        P.el("span", { class: "quote", text: chars.slice(s.start, s.end).join("") }, li);
      });
      if (value.length > 8) P.el("li", { class: "muted", text: "and " + (value.length - 8) + " more" }, ul);
    } else if (kind === "bounding_box") {
      P.el("span", { class: "count", text: value.length + (value.length === 1 ? " box" : " boxes") }, box);
      chips(value.map(function (b) { return b.label; }));
    } else if (kind === "semantic_segmentation") {
      P.el("span", { class: "count", text: value.length + (value.length === 1 ? " shape" : " shapes") }, box);
      chips(value.map(function (s) { return s.label; }));
    } else if (kind === "video_tracking") {
      P.el("span", { class: "count", text: value.length + (value.length === 1 ? " track" : " tracks") }, box);
      chips(value.map(function (t) { return t.label; }));
    } else {
      P.el("code", { text: JSON.stringify(value).slice(0, 200) }, box);
    }
    return box;
  };

  // ------------------------------------------------------------------------------- the shell
  function start() {
    var root = document.querySelector("[data-portal]");
    var configNode = document.getElementById("portal-config");
    if (!root || !configNode) return;
    var config = JSON.parse(configNode.textContent);
    var job = config.job;
    var urls = config.urls;
    var kind = job.kind;
    var verification = job.task_type === "verification";
    var labels = job.labels;

    var $ = function (sel) { return root.querySelector(sel); };
    var ui = {
      stage: $("[data-stage]"),
      toolbar: $("[data-toolbar]"),
      state: $("[data-state]"),
      review: $("[data-review]"),
      labels: $("[data-labels]"),
      labelsHint: $("[data-labels-hint]"),
      error: $("[data-error]"),
      submit: $("[data-submit]"),
      skip: $("[data-skip]"),
      adjust: $("[data-adjust]"),
      cancel: $("[data-cancel-adjust]"),
      dock: $("[data-dock]"),
      list: $("[data-editor-list]"),
      previous: $("[data-previous]"),
      side: $("[data-side]"),
      sideOpen: $("[data-side-open]"),
      me: $("[data-me]"),
      work: $("[data-work]"),
      timer: document.querySelector("[data-timer]"),
      session: document.querySelector("[data-session]"),
      progress: document.querySelector("[data-progress]"),
      help: document.querySelector("[data-help]"),
    };

    var S = {
      task: null,
      editor: null,
      mode: "label", // verification: "review" (the proposal) or "adjust"
      busy: false,
      dead: false, // this assignment can no longer be submitted: Enter takes the next
      finished: false,
      failed: false,
      skew: 0, // server clock minus ours, from the Date header
      me: null,
      session: { labeled: 0, skipped: 0, since: Date.now() },
      ghost: null,
      timer: null,
    };

    // ----------------------------------------------------------------------- the API
    function csrf() {
      var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
      return m ? decodeURIComponent(m[1]) : config.csrf || "";
    }

    function api(method, url, body) {
      var init = {
        method: method,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrf() },
      };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return fetch(url, init).then(
        function (resp) {
          var date = Date.parse(resp.headers.get("Date") || "");
          if (!isNaN(date)) S.skew = date - Date.now();
          if (resp.status === 204) return { status: 204, data: null };
          return resp.text().then(function (text) {
            var data = null;
            try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
            if (!resp.ok) {
              var err = (data && data.error) || {};
              throw {
                status: resp.status,
                code: err.code || "http_" + resp.status,
                field: err.field || null,
                message: err.message || (data && data.detail) ||
                  (resp.status === 403 ? "The studio refused this (are you still signed in?)." : "The studio answered " + resp.status + "."),
              };
            }
            return { status: resp.status, data: data };
          });
        },
        function () {
          throw { network: true, code: "network", message: "Could not reach the studio. Your work is kept — press Enter to try again." };
        }
      );
    }

    // ---------------------------------------------------------------- numbers and time
    function fmt(n) { return Number(n || 0).toLocaleString(); }

    function renderSession() {
      if (!ui.session) return;
      var s = S.session;
      var minutes = Math.max(1, (Date.now() - s.since) / 60000);
      ui.session.querySelector("[data-session-count]").textContent = fmt(s.labeled);
      ui.session.title = s.labeled + " labeled and " + s.skipped + " skipped since you opened this page" +
        (s.labeled ? " (" + (s.labeled / minutes * 60).toFixed(0) + " an hour)" : "");
      var side = ui.me && ui.me.querySelector("[data-stat=session]");
      if (side) side.textContent = fmt(s.labeled) + (s.skipped ? " · " + fmt(s.skipped) + " skipped" : "");
    }

    function renderMe() {
      var me = S.me;
      if (!me) return;
      var st = me.stats || {};
      var set = function (name, text) {
        var node = ui.me && ui.me.querySelector("[data-stat=" + name + "]");
        if (node) node.textContent = text;
      };
      set("answers", fmt(st.answers));
      set("today", fmt(st.last_24h));
      set("agreement", st.agreement === null || st.agreement === undefined ? "—" : Math.round(st.agreement * 100) + "%");
      set("seconds", st.mean_seconds ? st.mean_seconds.toFixed(1) + " s" : "—");
      var total = document.querySelector("[data-total]");
      if (total) total.textContent = fmt(st.answers);
      if (ui.progress && typeof st.remaining === "number") {
        var all = Math.max(job.items_total || 0, st.remaining);
        var done = all ? (all - st.remaining) / all : 0;
        ui.progress.querySelector(".progress > span").style.width = (done * 100).toFixed(1) + "%";
        ui.progress.querySelector("[data-remaining]").textContent =
          fmt(st.remaining) + (st.remaining === 1 ? " item left" : " items left");
        ui.progress.title = fmt(all - st.remaining) + " of " + fmt(all) + " items labeled";
      }
    }

    function refreshMe() {
      return api("GET", urls.me).then(function (r) { S.me = r.data; renderMe(); }, function () {});
    }

    function tick() {
      if (!ui.timer) return;
      var text = ui.timer.querySelector("[data-timer-text]");
      if (!S.task || S.finished) {
        ui.timer.hidden = true;
        return;
      }
      ui.timer.hidden = false;
      var left = Math.floor((Date.parse(S.task.expires_at) - (Date.now() + S.skew)) / 1000);
      // The Date header has whole seconds: never show more time than the job gives.
      left = Math.min(left, job.time_limit_seconds || left);
      ui.timer.classList.toggle("is-low", left <= 60 && left > 15);
      ui.timer.classList.toggle("is-out", left <= 15);
      if (left <= 0) {
        text.textContent = "Time's up";
        ui.timer.title = "The time for this item is over: it may go to someone else. You can still submit; it counts if a slot is free.";
        return;
      }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      text.textContent = (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
      ui.timer.title = "Time left for this item";
    }

    // ------------------------------------------------------------------- messages
    function showError(message) {
      ui.error.hidden = !message;
      ui.error.querySelector("[data-error-text]").textContent = message || "";
    }

    var hintTimer = null;
    function hint(message) {
      var node = root.querySelector("[data-hint]");
      if (!node) return;
      node.textContent = message;
      node.hidden = !message;
      node.classList.remove("is-shown");
      void node.offsetWidth;
      node.classList.add("is-shown");
      clearTimeout(hintTimer);
      hintTimer = setTimeout(function () { node.hidden = true; }, 3200);
    }

    function setBusy(on) {
      S.busy = on;
      root.classList.toggle("is-busy", on);
      [ui.submit, ui.skip, ui.adjust].forEach(function (b) { if (b) b.disabled = on; });
    }

    // A full-stage state: loading, all done, or an error that stopped the page.
    function showState(kindOfState, title, text, actions) {
      ui.state.innerHTML = "";
      ui.state.hidden = false;
      ui.work.classList.add("has-state");
      ui.state.className = "p-state is-" + kindOfState;
      if (kindOfState === "loading") {
        P.el("div", { class: "spinner", "aria-label": "Loading" }, ui.state);
        return;
      }
      var card = P.el("div", { class: "p-state-card" }, ui.state);
      var icon = P.el("div", { class: "p-state-icon" }, card);
      icon.innerHTML = kindOfState === "done"
        ? '<svg viewBox="0 0 24 24"><path d="m5 12.5 4.5 4.5L19 7.5"/></svg>'
        : '<svg viewBox="0 0 24 24"><path d="M12 3.5 2.5 20h19z"/><path d="M12 10v4.5M12 17.2v.1"/></svg>';
      P.el("h2", { text: title }, card);
      if (text) P.el("p", { text: text }, card);
      var row = P.el("div", { class: "btn-row" }, card);
      (actions || []).forEach(function (a) {
        var b = P.el(a.href ? "a" : "button", { class: "btn" + (a.primary ? " btn-primary" : ""), href: a.href || null, type: a.href ? null : "button", "data-state-action": a.name }, row);
        P.el("span", { text: a.text }, b);
        if (a.key) P.kbd(a.key, b);
        if (a.click) b.addEventListener("click", a.click);
      });
    }

    function hideState() {
      ui.state.hidden = true;
      ui.work.classList.remove("has-state");
    }

    // ---------------------------------------------------------------------- tasks
    function clearTask() {
      if (S.editor) {
        try { S.editor.destroy(); } catch (e) { /* a broken editor must not stop the next task */ }
      }
      S.editor = null;
      S.task = null;
      S.ghost = null;
      ui.stage.innerHTML = "";
      ui.toolbar.innerHTML = "";
      ui.toolbar.hidden = true;
      ui.list.innerHTML = "";
      ui.list.hidden = true;
      ui.previous.innerHTML = "";
      ui.previous.hidden = true;
      ui.review.innerHTML = "";
      ui.review.hidden = true;
      showError("");
    }

    // The item on screen stays (dimmed) until the next one arrives: no blank flash.
    function loadNext() {
      S.dead = false;
      setBusy(true);
      var slow = setTimeout(function () { showState("loading"); }, 400);
      return api("POST", urls.next).then(
        function (r) {
          clearTimeout(slow);
          clearTask();
          setBusy(false);
          if (r.status === 204 || !r.data) return finish();
          hideState();
          showTask(r.data);
        },
        function (e) {
          clearTimeout(slow);
          clearTask();
          setBusy(false);
          S.failed = true;
          showState("error", "The next item could not be loaded", e.message, [
            { name: "retry", text: "Try again", key: "⏎", primary: true, click: retry },
            { name: "home", text: "My jobs", href: urls.home },
          ]);
        }
      );
    }

    function retry() {
      S.failed = false;
      S.finished = false;
      loadNext();
    }

    function finish() {
      S.finished = true;
      tick();
      var status = S.me && S.me.job ? S.me.job.status : job.status;
      var n = S.session.labeled;
      var text = n
        ? "You labeled " + n + (n === 1 ? " item" : " items") + " in this session."
        : "There is nothing left for you in this job right now.";
      if (status && status !== "InProgress" && status !== "Initializing") text += " The job is " + status.toLowerCase() + ".";
      if (status === "Initializing") text = "The job's items are still being prepared. Check again in a moment.";
      showState("done", status === "Initializing" ? "Almost ready" : "All done — thank you", text, [
        { name: "home", text: "Back to my jobs", key: "⏎", primary: true, href: urls.home },
        { name: "retry", text: "Check again", key: "R", click: retry },
      ]);
      refreshMe();
    }

    function editorFor(readOnly, initial) {
      var make = P.editors[kind];
      if (!make) {
        showError("This portal cannot show " + kind + " tasks.");
        return null;
      }
      return make({
        kind: kind,
        stage: ui.stage,
        toolbar: ui.toolbar,
        list: ui.list,
        data: S.task.item.data || {},
        labels: labels,
        color: P.color,
        initial: initial === undefined ? null : initial,
        readOnly: readOnly,
        changed: onChanged,
        hint: hint,
      });
    }

    function rebuildEditor(readOnly, initial) {
      if (S.editor) S.editor.destroy();
      ui.stage.innerHTML = "";
      ui.toolbar.innerHTML = "";
      ui.toolbar.hidden = true;
      ui.list.innerHTML = "";
      ui.list.hidden = true;
      S.ghost = null;
      S.editor = editorFor(readOnly, initial);
      renderPrevious();
      renderLabels();
      renderActions();
    }

    function showTask(task) {
      S.task = task;
      S.shownAt = Date.now();
      var item = task.item || {};
      var pre = item.pre_annotation;
      var review = item.review;
      if (verification) {
        S.mode = "review";
        rebuildEditor(true, pre);
      } else {
        S.mode = "label";
        var initial = review && review.current_label !== null && review.current_label !== undefined ? review.current_label : pre;
        rebuildEditor(false, initial);
        if (pre !== undefined && pre !== null && !review) hint("Pre-filled with a suggested label: check it and correct what is wrong.");
      }
      renderReview();
      tick();
      ui.work.focus({ preventScroll: true });
    }

    function onChanged() {
      renderLabels();
      if (!ui.error.hidden && !S.dead) showError("");
    }

    // The proposal under verification, the review request, other labelers' answers.
    function renderReview() {
      var item = S.task.item;
      ui.review.innerHTML = "";
      var parts = [];
      if (item.review) {
        var box = P.el("div", { class: "p-callout is-review" });
        P.el("strong", { text: "Review requested" }, box);
        if (item.review.comment) P.el("p", { class: "comment", text: item.review.comment }, box);
        var cur = P.el("div", { class: "current" }, box);
        P.el("span", { class: "muted", text: "Current label:" }, cur);
        cur.appendChild(P.describe(kind, item.review.current_label, labels, item.data));
        ghostButton(cur, item.review.current_label, "review");
        parts.push(box);
      }
      if (verification) {
        var v = P.el("div", { class: "p-callout is-verify" });
        if (S.mode === "review") {
          P.el("strong", { text: "Is this label right?" }, v);
          P.el("span", { class: "muted", text: "Accept it, or adjust it to what it should be." }, v);
        } else {
          P.el("strong", { text: "Adjusting the proposal" }, v);
          P.el("span", { class: "muted", text: "Correct it, then submit. Esc goes back to the proposal as it was." }, v);
        }
        parts.push(v);
      }
      parts.forEach(function (p) { ui.review.appendChild(p); });
      ui.review.hidden = !parts.length;
    }

    function ghostButton(parent, value, key) {
      if (!S.editor || !S.editor.ghost || value === null || value === undefined) return;
      var b = P.el("button", { class: "btn btn-ghost btn-sm ghost-btn", type: "button", "data-ghost": key }, parent);
      var on = S.ghost === key;
      b.textContent = on ? "Hide on item" : "Show on item";
      b.classList.toggle("is-on", on);
      b.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
      b.addEventListener("click", function () {
        S.ghost = S.ghost === key ? null : key;
        S.editor.ghost(S.ghost === null ? null : value);
        renderReview();
        renderPrevious();
      });
    }

    function renderPrevious() {
      var answers = S.task && S.task.item.previous_answers;
      ui.previous.innerHTML = "";
      if (!answers || !answers.length) {
        ui.previous.hidden = true;
        return;
      }
      ui.previous.hidden = false;
      var head = P.el("h3", { class: "p-sec-title" }, ui.previous);
      P.el("span", { text: "Other labelers' answers" }, head);
      P.el("span", { class: "n", text: String(answers.length) }, head);
      var ul = P.el("ul", { class: "answers" }, ui.previous);
      answers.forEach(function (a, i) {
        var li = P.el("li", {}, ul);
        var top = P.el("div", { class: "answer-head" }, li);
        P.el("span", { class: "who", text: "Answer " + (i + 1) }, top);
        var value = a && typeof a === "object" && a.verdict ? (a.verdict === "adjust" ? a.label : S.task.item.pre_annotation) : a;
        ghostButton(top, value, "answer-" + i);
        li.appendChild(P.describe(kind, a, labels, S.task.item.data));
      });
    }

    // ------------------------------------------------------------------ label bar, actions
    function renderLabels() {
      var ed = S.editor;
      ui.labels.innerHTML = "";
      if (!ed) return;
      var readOnly = verification && S.mode === "review";
      // Under review, only a proposed class is worth lighting up; a drawing tool's "active
      // class" is not part of the proposal.
      var selected = ed.selected && !(readOnly && ed.mode === "active") ? ed.selected() : [];
      var cursor = ed.cursor ? ed.cursor() : -1;
      var what = { choose: "Class", toggle: "Classes", active: "Draw as" }[ed.mode] || "Class";
      if (ui.labelsHint) ui.labelsHint.textContent = readOnly ? (ed.mode === "active" ? "Classes" : "Proposed") : what;
      labels.forEach(function (name, i) {
        var on = selected.indexOf(i) >= 0;
        var b = P.el("button", {
          class: "lbl" + (on ? " is-on" : "") + (ed.mode === "toggle" ? " is-toggle" : "") + (i === cursor ? " is-cursor" : ""),
          type: "button",
          "data-label": name,
          "aria-pressed": on ? "true" : "false",
          title: i < 9 ? name + " (" + (i + 1) + ")" : name,
        }, ui.labels);
        b.style.setProperty("--c", P.color(i));
        P.el("span", { class: "sw" }, b);
        P.el("span", { class: "name", text: name }, b);
        if (i < 9) P.kbd(String(i + 1), b);
        b.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
        b.addEventListener("click", function () { pick(i); });
      });
    }

    function renderActions() {
      var review = verification && S.mode === "review";
      var adjusting = verification && S.mode === "adjust";
      ui.submit.querySelector("[data-submit-text]").textContent = review ? "Accept" : "Submit";
      ui.submit.querySelector("kbd").textContent = review ? "A" : "⏎";
      if (ui.adjust) ui.adjust.hidden = !review;
      if (ui.cancel) ui.cancel.hidden = !adjusting;
    }

    function pick(i) {
      if (!S.editor || S.busy || S.dead) return;
      if (i < 0 || i >= labels.length) return;
      if (verification && S.mode === "review") enterAdjust();
      S.editor.pick(i);
      renderLabels();
    }

    function enterAdjust() {
      if (!verification || S.mode !== "review" || !S.task) return;
      S.mode = "adjust";
      rebuildEditor(false, S.task.item.pre_annotation);
      renderReview();
    }

    function leaveAdjust() {
      if (!verification || S.mode !== "adjust") return;
      S.mode = "review";
      rebuildEditor(true, S.task.item.pre_annotation);
      renderReview();
    }

    // ------------------------------------------------------------------ submit and skip
    var TERMINAL = ["assignment_expired", "assignment_released", "assignment_skipped", "already_submitted", "not_found"];

    function submit() {
      if (S.busy) return;
      if (S.dead) return loadNext();
      if (!S.task || !S.editor) return;
      var label;
      if (verification && S.mode === "review") {
        label = { verdict: "accept" };
      } else {
        var problem = S.editor.check ? S.editor.check() : null;
        if (problem) return showError(problem);
        label = verification ? { verdict: "adjust", label: S.editor.value() } : S.editor.value();
      }
      setBusy(true);
      ui.submit.classList.add("is-working");
      return api("POST", urls.submit.replace("{id}", S.task.assignment), { label: label }).then(
        function () {
          ui.submit.classList.remove("is-working");
          S.session.labeled += 1;
          renderSession();
          flash();
          setBusy(false);
          return loadNext().then(refreshMe);
        },
        function (e) { ui.submit.classList.remove("is-working"); failed(e); }
      );
    }

    function skip() {
      if (S.busy || !S.task) return;
      if (S.dead) return loadNext();
      setBusy(true);
      return api("POST", urls.skip.replace("{id}", S.task.assignment)).then(
        function () {
          S.session.skipped += 1;
          renderSession();
          setBusy(false);
          return loadNext().then(refreshMe);
        },
        failed
      );
    }

    function failed(e) {
      setBusy(false);
      if (TERMINAL.indexOf(e.code) >= 0 || e.status === 404) {
        S.dead = true;
        showError(e.message + " Press Enter for the next item.");
      } else {
        showError(e.message);
      }
    }

    function flash() {
      if (!ui.session) return;
      ui.session.classList.remove("is-flash");
      void ui.session.offsetWidth;
      ui.session.classList.add("is-flash");
    }

    // ------------------------------------------------------- finding a class by name
    // Past nine classes the number keys run out: "/" finds any class by typing its name.
    var picker = {
      box: root.querySelector("[data-picker]"),
      input: root.querySelector("[data-picker-input]"),
      list: root.querySelector("[data-picker-list]"),
      matches: [],
      at: 0,
    };

    function renderPicker() {
      var q = picker.input.value.trim().toLowerCase();
      picker.matches = labels.map(function (n, i) { return i; }).filter(function (i) {
        return labels[i].toLowerCase().indexOf(q) >= 0;
      }).slice(0, 60);
      picker.at = Math.min(picker.at, Math.max(0, picker.matches.length - 1));
      picker.list.innerHTML = "";
      picker.matches.forEach(function (i, k) {
        var li = P.el("li", { class: k === picker.at ? "is-at" : "", role: "option", "aria-selected": k === picker.at ? "true" : "false" }, picker.list);
        li.style.setProperty("--c", P.color(i));
        P.el("span", { class: "sw" }, li);
        P.el("span", { class: "name", text: labels[i] }, li);
        if (i < 9) P.kbd(String(i + 1), li);
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choosePicked(k); });
      });
      if (!picker.matches.length) P.el("li", { class: "none", text: "No class matches." }, picker.list);
      var at = picker.list.querySelector(".is-at");
      if (at) at.scrollIntoView({ block: "nearest" });
    }

    function openPicker() {
      if (!picker.box || !S.editor) return;
      picker.box.hidden = false;
      picker.input.value = "";
      picker.at = 0;
      renderPicker();
      picker.input.focus();
    }

    function closePicker() {
      if (!picker.box) return;
      picker.box.hidden = true;
      picker.input.blur();
      ui.work.focus({ preventScroll: true });
    }

    function choosePicked(k) {
      var i = picker.matches[k];
      closePicker();
      if (i !== undefined) pick(i);
    }

    if (picker.box) {
      picker.input.addEventListener("input", function () { picker.at = 0; renderPicker(); });
      picker.input.addEventListener("keydown", function (ev) {
        if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
          ev.preventDefault();
          var n = picker.matches.length || 1;
          picker.at = (picker.at + (ev.key === "ArrowDown" ? 1 : -1) + n) % n;
          renderPicker();
        } else if (ev.key === "Enter") {
          ev.preventDefault();
          choosePicked(picker.at);
        } else if (ev.key === "Escape") {
          ev.preventDefault();
          closePicker();
        }
      });
      picker.input.addEventListener("blur", function () { setTimeout(function () { if (document.activeElement !== picker.input) picker.box.hidden = true; }, 0); });
    }

    // --------------------------------------------------------------- side panel, help
    var SIDE_KEY = "sextant.portal.side";
    function setSide(open) {
      ui.side.hidden = !open;
      ui.sideOpen.hidden = open;
      root.classList.toggle("side-closed", !open);
      try { localStorage.setItem(SIDE_KEY, open ? "open" : "closed"); } catch (e) { /* private mode */ }
    }
    function toggleSide() { setSide(ui.side.hidden); }

    function openHelp() {
      var body = ui.help.querySelector("[data-help-body]");
      body.innerHTML = "";
      var groups = [];
      var mode = (S.editor && S.editor.mode) || "choose";
      var general = [
        // A drawing editor says itself what the number keys do.
        mode === "active" ? null : ["1 – 9", mode === "toggle" ? "Turn a class on or off" : "Choose a class"],
        ["Enter", "Submit"],
        ["S", "Skip this item"],
        ["Z", "Undo"],
        ["I", "Show or hide the instructions"],
        ["/", "Find a class by name"],
        ["?", "This help"],
      ].filter(Boolean);
      if (verification) {
        general = [
          ["A or Enter", "Accept the proposed label"],
          ["E", "Adjust it (then Enter submits, Esc goes back)"],
          ["1 – 9", "Adjust, with this class"],
          ["S", "Skip this item"],
          ["I", "Show or hide the instructions"],
          ["?", "This help"],
        ];
      }
      groups.push(["Everywhere", general]);
      var known = general.map(function (row) { return row.join(" "); });
      var own = ((S.editor && S.editor.help) || []).filter(function (row) { return known.indexOf(row.join(" ")) < 0; });
      if (own.length) groups.push(["This task", own]);
      groups.forEach(function (g) {
        var sec = P.el("section", {}, body);
        P.el("h3", { text: g[0] }, sec);
        var dl = P.el("dl", {}, sec);
        g[1].forEach(function (row) {
          var dt = P.el("dt", {}, dl);
          String(row[0]).split(" or ").forEach(function (k, j) {
            if (j) P.el("span", { class: "or", text: "or" }, dt);
            P.kbd(k, dt);
          });
          P.el("dd", { text: row[1] }, dl);
        });
      });
      ui.help.hidden = false;
    }
    function closeHelp() { ui.help.hidden = true; }

    // ------------------------------------------------------------------ the keyboard
    function onKey(ev) {
      if (ev.defaultPrevented || ev.altKey || ev.isComposing) return;
      var key = ev.key;
      var lower = key.length === 1 ? key.toLowerCase() : key;
      var handled = function () { ev.preventDefault(); ev.stopPropagation(); };
      if (!ui.help.hidden) {
        if (key === "Escape" || key === "?" || key === "Enter") { handled(); closeHelp(); }
        return;
      }
      var t = ev.target;
      if (t && (t.tagName === "TEXTAREA" || t.isContentEditable || (t.tagName === "INPUT" && t.type !== "range"))) return;
      if (document.querySelector("details[data-menu][open]")) return;
      if (ev.ctrlKey || ev.metaKey) {
        if (lower === "z" && S.editor && S.editor.undo && !(verification && S.mode === "review")) { handled(); S.editor.undo(); renderLabels(); }
        return;
      }
      if (key === "?") { handled(); openHelp(); return; }
      if (key === "/" && S.task && S.editor && !S.busy && !S.dead && !S.finished) { handled(); openPicker(); return; }
      if (S.finished || S.failed) {
        if (key === "Enter") {
          handled();
          if (S.failed) retry(); else location.href = urls.home;
        } else if (lower === "r") { handled(); retry(); }
        return;
      }
      if (lower === "i") { handled(); toggleSide(); return; }
      if (!S.task || !S.editor) return;
      if (S.busy) {
        if (key === "Enter" || lower === "s" || /^[1-9]$/.test(key)) handled();
        return;
      }
      if (S.dead) {
        if (key === "Enter" || lower === "s") { handled(); loadNext(); }
        return;
      }
      if (S.editor.key && S.editor.key(ev)) { handled(); return; }
      if (verification && S.mode === "review") {
        if (lower === "a" || key === "Enter") { handled(); submit(); return; }
        if (lower === "e") { handled(); enterAdjust(); return; }
      }
      if (verification && S.mode === "adjust" && key === "Escape") { handled(); leaveAdjust(); return; }
      if (/^[1-9]$/.test(key)) { handled(); pick(Number(key) - 1); return; }
      if (key === "Enter") { handled(); submit(); return; }
      if (lower === "s") { handled(); skip(); return; }
      if (lower === "z" && S.editor.undo && !(verification && S.mode === "review")) { handled(); S.editor.undo(); renderLabels(); return; }
    }

    // -------------------------------------------------------------------------- wiring
    window.addEventListener("keydown", onKey, true);
    ui.submit.addEventListener("click", submit);
    ui.skip.addEventListener("click", skip);
    if (ui.adjust) ui.adjust.addEventListener("click", enterAdjust);
    if (ui.cancel) ui.cancel.addEventListener("click", leaveAdjust);
    [ui.submit, ui.skip, ui.adjust, ui.cancel].forEach(function (b) {
      if (b) b.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
    });
    root.querySelectorAll("[data-side-toggle]").forEach(function (b) { b.addEventListener("click", toggleSide); });
    ui.sideOpen.addEventListener("click", function () { setSide(true); });
    document.querySelectorAll("[data-help-open]").forEach(function (b) {
      b.addEventListener("click", function (ev) { ev.preventDefault(); openHelp(); });
    });
    ui.help.addEventListener("click", function (ev) {
      if (ev.target === ui.help || ev.target.closest("[data-help-close]")) closeHelp();
    });
    var side = "open";
    try { side = localStorage.getItem(SIDE_KEY) || "open"; } catch (e) { /* private mode */ }
    setSide(side !== "closed");

    S.timer = setInterval(function () { tick(); renderSession(); }, 1000);
    renderSession();
    refreshMe();
    loadNext();
    P.state = S; // for the browser tests and for debugging in the console
  }

  document.addEventListener("DOMContentLoaded", start);
})();
