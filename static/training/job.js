/* A training job's charts: one chart per metric with a curve per channel (train against
   validation), refreshed while the job runs; its feature importances; and the plot behind
   each debugger rule, with the rules' statuses kept live. Status, progress
   and logs follow the job through studio/job.js. */
(function () {
  "use strict";

  var root = document.querySelector("[data-training]");
  if (!root) return;
  var panel = root.querySelector("[data-charts]");
  var series = JSON.parse(document.getElementById("training-series").textContent);
  var importance = JSON.parse(document.getElementById("training-importance").textContent);
  var rules = JSON.parse(document.getElementById("training-rules").textContent);
  var active = (root.dataset.active || "").split(",");
  var finished = active.indexOf(root.dataset.status) === -1;

  // "validation:logloss" → chart "logloss", curve "validation"; names without a channel
  // are charts of their own.
  function grouped(data) {
    var charts = {};
    Object.keys(data).sort().forEach(function (name) {
      var cut = name.indexOf(":");
      var metric = cut > 0 ? name.slice(cut + 1) : name;
      var channel = cut > 0 ? name.slice(0, cut) : name;
      (charts[metric] = charts[metric] || {})[channel] = data[name];
    });
    return charts;
  }

  function draw(data) {
    var charts = grouped(data);
    var names = Object.keys(charts);
    var empty = panel.querySelector("[data-no-series]");
    if (empty) empty.hidden = names.length > 0;
    names.forEach(function (metric) {
      var el = panel.querySelector('[data-series-chart="' + CSS.escape(metric) + '"]');
      if (!el) {
        var card = document.createElement("div");
        card.className = "card";
        var head = document.createElement("div");
        head.className = "card-head";
        var h = document.createElement("h2");
        h.textContent = metric;
        head.appendChild(h);
        el = document.createElement("div");
        el.className = "chart";
        el.dataset.seriesChart = metric;
        card.append(head, el);
        panel.querySelector("[data-chart-grid]").appendChild(card);
      }
      if (!el.closest("[hidden]")) window.SextantCharts.curves(el, metric, charts[metric]);
    });
  }

  function drawImportance() {
    var el = root.querySelector("[data-importance-chart]");
    if (!el || el.dataset.rendered || el.closest("[hidden]")) return;
    var labels = Object.keys(importance).slice(0, 20);
    if (labels.length) {
      window.SextantCharts.bars(el, "share of importance", labels, labels.map(function (k) { return importance[k]; }));
    }
  }

  // Each debugger rule's plot: the values it read, with its threshold.
  function drawRules() {
    rules.forEach(function (rule) {
      var el = root.querySelector('[data-rule-chart="' + CSS.escape(rule.name) + '"]');
      if (!el) return;
      el.hidden = !rule.figure;
      if (rule.figure && !el.closest("[hidden]")) {
        window.SextantCharts.figure(el, rule.figure, rule.name);
      }
    });
  }

  function redraw() {
    window.SextantCharts.ensurePlotly(root.dataset.plotly).then(function () {
      draw(series);
      drawImportance();
      drawRules();
    });
  }

  function showRules(statuses) {
    rules = statuses || rules;
    var issues = 0;
    rules.forEach(function (rule) {
      var state = "rule-" + rule.status.toLowerCase();
      if (rule.status === "IssuesFound") issues++;
      root.querySelectorAll('[data-rule="' + CSS.escape(rule.name) + '"], [data-rule-card="' +
                            CSS.escape(rule.name) + '"]').forEach(function (el) {
        el.classList.remove("rule-inprogress", "rule-noissuesfound", "rule-issuesfound");
        el.classList.add(state);
        el.querySelector("[data-rule-status]").textContent = rule.status;
        var message = el.querySelector("[data-rule-message]");
        message.textContent = rule.message || "";
        message.hidden = !rule.message;
        var note = el.querySelector("[data-rule-note]");
        if (note) note.textContent = rule.note || "";
      });
    });
    var count = root.querySelector("[data-issue-count]");
    if (count) { count.textContent = issues; count.hidden = issues === 0; }
  }

  // A rule's chip opens the Debugger tab at that rule's plot.
  root.addEventListener("click", function (ev) {
    var chip = ev.target.closest("[data-rule]");
    if (!chip) return;
    setTimeout(function () {
      var card = root.querySelector('[data-rule-card="' + CSS.escape(chip.dataset.rule) + '"]');
      if (card) card.scrollIntoView({ block: "start", behavior: "smooth" });
    }, 0);
  });

  function refresh() {
    Promise.all([
      fetch(root.dataset.metricsApi, { credentials: "same-origin" }).then(function (r) { return r.json(); }),
      fetch(root.dataset.api, { credentials: "same-origin" }).then(function (r) { return r.json(); }),
      fetch(root.dataset.debuggerApi, { credentials: "same-origin" }).then(function (r) { return r.json(); }),
    ]).then(function (res) {
      showRules(res[2].rules);
      var points = res[0];
      series = {};
      Object.keys(points).forEach(function (name) {
        series[name] = points[name].map(function (p) { return [p.step, p.value]; });
      });
      finished = active.indexOf(res[1].status) === -1;
      redraw();
    }).catch(function () {}).then(function () {
      if (!finished) setTimeout(refresh, 2000);
    });
  }

  document.addEventListener("studio:shown", redraw);
  document.addEventListener("DOMContentLoaded", function () {
    redraw();
    if (!finished) setTimeout(refresh, 2000);
  });
})();
