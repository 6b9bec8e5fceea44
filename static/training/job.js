/* A training job's charts: one chart per metric with a curve per channel (train against
   validation), refreshed while the job runs; and its feature importances. Status, progress
   and logs follow the job through studio/job.js. */
(function () {
  "use strict";

  var root = document.querySelector("[data-training]");
  if (!root) return;
  var panel = root.querySelector("[data-charts]");
  var series = JSON.parse(document.getElementById("training-series").textContent);
  var importance = JSON.parse(document.getElementById("training-importance").textContent);
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

  function redraw() {
    window.SextantCharts.ensurePlotly(root.dataset.plotly).then(function () {
      draw(series);
      drawImportance();
    });
  }

  function showRules(statuses) {
    (statuses || []).forEach(function (rule) {
      var chip = root.querySelector('[data-rule="' + CSS.escape(rule.name) + '"]');
      if (!chip) return;
      chip.className = "rule-chip rule-" + rule.status.toLowerCase();
      chip.querySelector("[data-rule-status]").textContent = rule.status;
      chip.querySelector("[data-rule-message]").textContent = rule.message || "";
    });
  }

  function refresh() {
    Promise.all([
      fetch(root.dataset.metricsApi, { credentials: "same-origin" }).then(function (r) { return r.json(); }),
      fetch(root.dataset.api, { credentials: "same-origin" }).then(function (r) { return r.json(); }),
      fetch(root.dataset.trainingApi, { credentials: "same-origin" }).then(function (r) { return r.json(); }),
    ]).then(function (res) {
      showRules(res[2].rule_statuses);
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
