/* A Clarify job's report: polls while the job runs; per bias stage, one metric across the
   facet groups as bars (a select picks the metric); SHAP global importance, a dependence
   plot (a select picks the feature) and one row's attributions from the expected value to
   its prediction (a select picks the row). Charts are drawn when their tab is shown. */
(function () {
  "use strict";

  var RUNNING = ["Pending", "Starting", "Running", "Stopping"];

  function poll(root) {
    var every = Number(root.dataset.poll);
    if (!every) return;
    setInterval(function () {
      fetch(root.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (c) { if (RUNNING.indexOf(c.status) < 0) location.reload(); })
        .catch(function () { /* the next beat tries again */ });
    }, every);
  }

  function visible(el) { return !el.closest("[hidden]"); }

  function number(v) {
    if (v === "inf") return Infinity;
    if (v === "-inf") return -Infinity;
    return typeof v === "number" ? v : null;
  }

  function fillSelect(select, values, labels) {
    select.innerHTML = "";
    values.forEach(function (v, i) {
      var o = document.createElement("option");
      o.value = String(v);
      o.textContent = labels ? labels[i] : String(v);
      select.appendChild(o);
    });
  }

  // One bias stage: bars of the chosen metric over the groups (intersections marked).
  function stage(root, key, entries) {
    var el = root.querySelector('[data-bias-chart="' + key + '"]');
    var pick = root.querySelector('[data-metric-pick="' + key + '"]');
    var help = root.querySelector('[data-metric-help="' + key + '"]');
    if (!el || !pick) return null;
    var names = [], descriptions = {};
    entries.forEach(function (e) {
      (e.metrics || []).forEach(function (m) {
        if (names.indexOf(m.name) < 0) { names.push(m.name); descriptions[m.name] = m.description || m.name; }
      });
    });
    fillSelect(pick, names, names.map(function (n) { return descriptions[n]; }));
    function draw() {
      if (!visible(el)) return;
      var metric = pick.value;
      var labels = [], values = [], notes = [];
      entries.forEach(function (e) {
        var m = (e.metrics || []).filter(function (x) { return x.name === metric; })[0] || {};
        var inter = String(e.facet).indexOf(" & ") >= 0;
        labels.push((inter ? "⋂ " : "") + e.facet + " = " + e.value_or_threshold);
        var v = number(m.value);
        values.push(v === null || !isFinite(v) ? null : v);
        notes.push(m.error ? m.error : (v !== null && !isFinite(v) ? (v > 0 ? "∞" : "−∞") : e.group_size + " rows"));
      });
      MonitorCharts.hbars(el, labels, [{ name: metric, values: values, custom: notes }],
        { xtitle: descriptions[metric], filename: key + "-" + metric, per: 30, min: 200 });
      help.textContent = descriptions[metric] + ". Bars near 0 mean the group is treated like everyone else; ⋂ marks an intersection of facets.";
    }
    pick.addEventListener("change", draw);
    return draw;
  }

  function explanations(root, ex) {
    var draws = [];
    var imp = root.querySelector("[data-importance-chart]");
    if (imp) {
      var sorted = (ex.global_importance || []).slice().sort(function (a, b) { return b.mean_abs_shap - a.mean_abs_shap; });
      draws.push(function () {
        if (!visible(imp) || imp.dataset.rendered) return;
        MonitorCharts.hbars(imp, sorted.map(function (r) { return r.feature; }),
          [{ name: "", values: sorted.map(function (r) { return r.mean_abs_shap; }) }],
          { xtitle: "mean |SHAP value|", filename: "global-importance", min: 300 });
      });
    }
    var dep = root.querySelector("[data-dependence-chart]");
    var depPick = root.querySelector("[data-dependence-pick]");
    if (dep && depPick) {
      var features = Object.keys(ex.dependence || {});
      fillSelect(depPick, features);
      var drawDep = function () {
        if (!visible(dep)) return;
        var name = depPick.value;
        if (!name) { MonitorCharts.empty(dep, "No dependence data."); return; }
        MonitorCharts.dependence(dep, name, ex.dependence[name]);
      };
      depPick.addEventListener("change", drawDep);
      draws.push(drawDep);
    }
    var wf = root.querySelector("[data-waterfall-chart]");
    var rowPick = root.querySelector("[data-row-pick]");
    if (wf && rowPick) {
      var rows = ex.rows || [];
      fillSelect(rowPick, rows.map(function (_, i) { return i; }),
        rows.map(function (r) { return "row " + r.index + " → " + MonitorCharts.fmt(r.prediction); }));
      var drawRow = function () {
        if (!visible(wf)) return;
        var row = rows[Number(rowPick.value)];
        if (!row) { MonitorCharts.empty(wf, "No row was explained one by one."); return; }
        MonitorCharts.waterfall(wf, ex.expected_value, row, ex.output);
      };
      rowPick.addEventListener("change", drawRow);
      draws.push(drawRow);
    }
    return draws;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-clarify-page]");
    if (!root) return;
    poll(root);
    if (typeof Plotly === "undefined") return;
    var charts = JSON.parse(document.getElementById("clarify-charts").textContent);
    var draws = [];
    Object.keys(charts.stages || {}).forEach(function (key) {
      var d = stage(root, key, charts.stages[key]);
      if (d) draws.push(d);
    });
    if (charts.explanations) draws = draws.concat(explanations(root, charts.explanations));
    function drawAll() { draws.forEach(function (d) { d(); }); }
    document.addEventListener("studio:shown", drawAll);
    drawAll();
  });
})();
