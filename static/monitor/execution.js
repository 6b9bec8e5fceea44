/* A monitoring execution's report: polls while the run is at work, sends its rows back into
   the lifecycle (label them, train again), and draws what drifted — a sortable table of the
   features, the selected feature's baseline and current distributions overlaid, and its
   drift score across the schedule's executions. */
(function () {
  "use strict";

  var F = window.SextantForms;
  var RUNNING = ["Pending", "InProgress"];

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": F.csrf(), Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, data: data }; });
    });
  }

  function poll(root) {
    var every = Number(root.dataset.poll);
    if (!every) return;
    setInterval(function () {
      fetch(root.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (e) { if (RUNNING.indexOf(e.status) < 0) location.reload(); })
        .catch(function () { /* a missed beat: the next one tries again */ });
    }, every);
  }

  // A completed labeling job of this window: its labels become the endpoint's ground truth.
  function truthButton(root) {
    var button = root.querySelector("[data-truth]");
    if (!button) return;
    var box = root.querySelector("[data-loop-error]"), done = root.querySelector("[data-truth-done]");
    button.addEventListener("click", function () {
      box.hidden = true;
      button.disabled = true;
      post(root.dataset.truthApi, { labeling_job: Number(button.dataset.truth) }).then(function (res) {
        if (res.ok) {
          done.querySelector("[data-truth-text]").textContent =
            res.data.rows + " labels stored as ground truth: the model-quality and bias-drift monitors use them from their next run.";
          done.hidden = false;
          return;
        }
        button.disabled = false;
        box.querySelector("[data-loop-error-text]").textContent = (res.data.error || {}).message || "The studio refused.";
        box.hidden = false;
      });
    });
  }

  // Label these rows / Retrain on fresh data: the API answers the new job, or says why not.
  function loopButtons(root) {
    var box = root.querySelector("[data-loop-error]");
    root.querySelectorAll("[data-loop]").forEach(function (button) {
      button.addEventListener("click", function () {
        var label = button.dataset.loop === "label";
        var url = label ? root.dataset.labelApi : root.dataset.retrainApi;
        box.hidden = true;
        button.disabled = true;
        post(url).then(function (res) {
          if (res.ok) {
            var id = label ? res.data.labeling_job : res.data.training_job;
            location.href = (label ? root.dataset.labelingUrl : root.dataset.trainingUrl).replace("{id}", id);
            return;
          }
          button.disabled = false;
          var error = res.data.error || {};
          box.querySelector("[data-loop-error-text]").textContent =
            error.message || res.data.detail || "The studio refused: " + JSON.stringify(res.data);
          box.hidden = false;
        }).catch(function () {
          button.disabled = false;
          box.querySelector("[data-loop-error-text]").textContent = "The studio could not be reached; try again.";
          box.hidden = false;
        });
      });
    });
  }

  // The drift table sorts on the client (its rows carry their raw numbers).
  function sortable(table, onSorted) {
    var body = table.tBodies[0];
    table.querySelectorAll("th.sortable").forEach(function (th) {
      th.addEventListener("click", function () {
        var key = th.dataset.sort, numeric = th.dataset.type === "num";
        var desc = th.classList.contains("is-active") ? th.dataset.desc !== "1" : numeric;
        table.querySelectorAll("th.sortable").forEach(function (o) {
          o.classList.remove("is-active"); o.querySelector(".arrow").textContent = "↕";
        });
        th.classList.add("is-active");
        th.dataset.desc = desc ? "1" : "";
        th.querySelector(".arrow").textContent = desc ? "▼" : "▲";
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.dataset[key], y = b.dataset[key];
          var r;
          if (numeric) {
            // Empty numbers (a column not compared) always sort last.
            var nx = x === "" ? null : Number(x), ny = y === "" ? null : Number(y);
            if (nx === null || ny === null) return (nx === null) - (ny === null);
            r = nx - ny;
          } else {
            r = x.localeCompare(y);
          }
          if (r === 0) r = a.dataset.name.localeCompare(b.dataset.name);
          return desc ? -r : r;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        if (onSorted) onSorted();
      });
    });
  }

  function driftView(root, charts) {
    var table = root.querySelector("[data-drift-table]");
    if (!table) return;
    var hist = root.querySelector("[data-hist-chart]");
    var trendEl = root.querySelector("[data-feature-trend]");
    var byName = {};
    charts.drift.forEach(function (c) { byName[c.name] = c; });
    var executionUrl = location.pathname.replace(/\/\d+\/$/, "/{id}/");

    function select(row) {
      table.querySelectorAll("tr.is-selected").forEach(function (r) { r.classList.remove("is-selected"); });
      row.classList.add("is-selected");
      var col = byName[row.dataset.driftRow];
      if (!col) return;
      root.querySelector("[data-hist-title]").textContent = col.name;
      hist.dataset.feature = col.name;
      MonitorCharts.overlay(hist, col);
      var key = "drift:" + col.name;
      var has = charts.trend.some(function (p) { return p.scores[key] !== undefined; });
      if (!has) {
        MonitorCharts.empty(trendEl, "No earlier score for " + col.name + ".");
        return;
      }
      if (trendEl.querySelector(".chart-empty")) trendEl.innerHTML = "";
      MonitorCharts.trend(trendEl, charts.trend, [key], {
        ytitle: "drift score", current: charts.execution, filename: "trend-" + col.name,
        onClick: function (id) { if (id !== charts.execution) location.href = executionUrl.replace("{id}", id); },
      });
    }

    table.addEventListener("click", function (ev) {
      var row = ev.target.closest("tr[data-drift-row]");
      if (row) select(row);
    });
    table.addEventListener("keydown", function (ev) {
      var row = ev.target.closest("tr[data-drift-row]");
      if (!row) return;
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(row); }
      if (ev.key === "ArrowDown" && row.nextElementSibling) { ev.preventDefault(); row.nextElementSibling.focus(); select(row.nextElementSibling); }
      if (ev.key === "ArrowUp" && row.previousElementSibling) { ev.preventDefault(); row.previousElementSibling.focus(); select(row.previousElementSibling); }
    });
    // A violation names its feature: clicking it shows that feature's distributions.
    root.querySelectorAll("[data-violations] tr[data-feature]").forEach(function (vr) {
      var target = table.querySelector('tr[data-drift-row="' + CSS.escape(vr.dataset.feature) + '"]');
      if (!target) return;
      vr.style.cursor = "pointer";
      vr.title = "Show " + vr.dataset.feature + "'s distributions";
      vr.addEventListener("click", function () { select(target); target.scrollIntoView({ block: "nearest" }); });
    });
    sortable(table);
    var first = table.querySelector("tr.is-selected") || table.querySelector("tr[data-drift-row]");
    if (first) select(first);
  }

  function otherViews(root, charts) {
    var cm = root.querySelector("[data-confusion-chart]");
    if (cm && charts.confusion) MonitorCharts.confusion(cm, charts.confusion);
    var imp = root.querySelector("[data-importance-compare]");
    if (imp) {
      var base = {}, cur = {};
      charts.baseline_importance.forEach(function (r) { base[r.feature] = r.mean_abs_shap; });
      charts.current_importance.forEach(function (r) { cur[r.feature] = r.mean_abs_shap; });
      var names = Object.keys(base);
      Object.keys(cur).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); });
      names.sort(function (a, b) { return (base[b] || 0) - (base[a] || 0); });
      MonitorCharts.hbars(imp, names, [
        { name: "baseline", values: names.map(function (n) { return base[n] || 0; }), color: "#7c8db5" },
        { name: "this window", values: names.map(function (n) { return cur[n] || 0; }), color: "#f59e0b" },
      ], { xtitle: "mean |SHAP value|", filename: "importance", per: 26 });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-execution-page]");
    if (!root) return;
    poll(root);
    loopButtons(root);
    truthButton(root);
    if (typeof Plotly === "undefined") return;
    var charts = JSON.parse(document.getElementById("execution-charts").textContent);
    driftView(root, charts);
    otherViews(root, charts);
  });
})();
