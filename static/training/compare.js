/* Runs side by side: their parameters and metrics in a table, parallel coordinates of the
   numeric parameters against a metric, a scatter of any two, and a chart per metric with a
   curve per run (the server sends each series downsampled). */
(function () {
  "use strict";

  var page = document.querySelector("[data-compare-page]");
  if (!page) return;
  var runs = JSON.parse(document.getElementById("compare-runs").textContent);
  var series = JSON.parse(document.getElementById("compare-series").textContent);
  var C = window.SextantCharts;

  function keys(field) {
    var seen = {};
    runs.forEach(function (r) { Object.keys(r[field]).forEach(function (k) { seen[k] = true; }); });
    return Object.keys(seen).sort();
  }
  var params = keys("params");
  var metrics = keys("metrics");
  function numeric(values) { return values.every(function (v) { return v === undefined || !isNaN(Number(v)); }); }
  var axes = [];
  params.forEach(function (k) {
    var values = runs.map(function (r) { return r.params[k]; });
    if (numeric(values) && values.some(function (v) { return v !== undefined; })) axes.push({ label: k, kind: "param", values: values.map(Number) });
  });
  metrics.forEach(function (k) {
    axes.push({ label: k, kind: "metric", values: runs.map(function (r) { return r.metrics[k]; }) });
  });

  function table() {
    var t = page.querySelector("[data-compare-table]");
    var head = "<tr><th></th>" + runs.map(function (r) { return "<th>" + esc(r.name) + " <span class='muted'>#" + r.id + "</span></th>"; }).join("") + "</tr>";
    t.tHead.innerHTML = head;
    var rows = params.map(function (k) { return ["param", k, runs.map(function (r) { return r.params[k]; })]; })
      .concat(metrics.map(function (k) { return ["metric", k, runs.map(function (r) { return r.metrics[k]; })]; }));
    t.tBodies[0].innerHTML = rows.map(function (row) {
      var distinct = {};
      row[2].forEach(function (v) { distinct[String(v)] = true; });
      var differs = Object.keys(distinct).length > 1;
      return "<tr" + (differs ? " class='differs'" : "") + "><td class='mono'>" + esc(row[1]) + " <span class='muted small'>" + row[0] + "</span></td>" +
        row[2].map(function (v) { return "<td class='num'>" + (v === undefined ? "—" : esc(typeof v === "number" ? Number(v.toPrecision(5)) : v)) + "</td>"; }).join("") + "</tr>";
    }).join("");
  }

  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; });
  }

  function fill(select, chosen) {
    axes.forEach(function (a, i) {
      var o = document.createElement("option");
      o.value = i; o.textContent = a.kind + " " + a.label; o.selected = i === chosen;
      select.appendChild(o);
    });
  }

  function differs(a) {
    var seen = {};
    a.values.forEach(function (v) { if (v !== undefined && !isNaN(v)) seen[v] = true; });
    return Object.keys(seen).length > 1;
  }

  // The parameters that differ between the runs, then the metric chosen: one axis each.
  function parallel() {
    var el = page.querySelector("[data-parallel]");
    var colour = axes[Number(page.querySelector("[data-pc-metric]").value)] || axes[0];
    if (!axes.length) return;
    var chosen = axes.filter(function (a) { return a.kind === "param" && differs(a); }).concat([colour]);
    var dims = chosen.map(function (a) {
      var vals = a.values.map(function (v) { return v === undefined ? NaN : v; });
      return { label: a.label, values: vals };
    });
    Plotly.react(el, [{
      type: "parcoords",
      line: { color: colour.values.map(function (v) { return v === undefined ? 0 : v; }), colorscale: "Viridis", showscale: true },
      dimensions: dims,
    }], { margin: { l: 60, r: 40, t: 40, b: 20 }, paper_bgcolor: "rgba(0,0,0,0)" }, { displaylogo: false, responsive: true });
  }

  function scatter() {
    var el = page.querySelector("[data-scatter]");
    var x = axes[Number(page.querySelector("[data-x]").value)];
    var y = axes[Number(page.querySelector("[data-y]").value)];
    if (!x || !y) return;
    Plotly.react(el, [{
      type: "scatter", mode: "markers+text", x: x.values, y: y.values,
      text: runs.map(function (r) { return r.name; }), textposition: "top center",
      marker: { size: 10, color: C.palette[0] },
      hovertemplate: "%{text}<br>" + esc(x.label) + " %{x}<br>" + esc(y.label) + " %{y}<extra></extra>",
    }], {
      margin: { l: 60, r: 20, t: 10, b: 50 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      xaxis: { title: { text: x.label } }, yaxis: { title: { text: y.label } },
    }, { displaylogo: false, responsive: true });
  }

  function curves() {
    var grid = page.querySelector("[data-curves]");
    Object.keys(series).sort().forEach(function (key) {
      var card = document.createElement("div");
      card.className = "card";
      card.innerHTML = "<div class='card-head'><h2 class='mono'></h2></div>";
      card.querySelector("h2").textContent = key;
      var el = document.createElement("div");
      el.className = "chart";
      el.dataset.curve = key;
      card.appendChild(el);
      grid.appendChild(card);
      C.curves(el, key, series[key]);
    });
    if (!Object.keys(series).length) grid.innerHTML = "<p class='muted'>These runs logged no metric over several steps.</p>";
  }

  document.addEventListener("DOMContentLoaded", function () {
    table();
    var pc = page.querySelector("[data-pc-metric]");
    var metric = axes.findIndex(function (a) { return a.kind === "metric" && a.label.indexOf("validation:") === 0; });
    if (metric < 0) metric = axes.findIndex(function (a) { return a.kind === "metric"; });
    var param = axes.findIndex(function (a) { return a.kind === "param" && differs(a); });
    fill(pc, Math.max(0, metric));
    fill(page.querySelector("[data-x]"), Math.max(0, param));
    fill(page.querySelector("[data-y]"), Math.max(0, metric));
    parallel();
    scatter();
    curves();
    pc.addEventListener("change", parallel);
    page.querySelector("[data-x]").addEventListener("change", scatter);
    page.querySelector("[data-y]").addEventListener("change", scatter);
  });
})();
