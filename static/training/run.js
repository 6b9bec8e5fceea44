/* A run's charts: a curve per metric, and for a classifier its confusion matrix, ROC and
   precision-recall curves and feature importances (all sent with the page). */
(function () {
  "use strict";

  var page = document.querySelector("[data-run-page]");
  if (!page) return;
  var data = JSON.parse(document.getElementById("run-charts").textContent);
  var C = window.SextantCharts;
  var layout = { margin: { l: 60, r: 20, t: 10, b: 50 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" };
  var config = { displaylogo: false, responsive: true };

  function show(name) { page.querySelector('[data-if="' + name + '"]').hidden = false; }

  function line(el, points, x, y, diagonal) {
    var traces = [{ type: "scatter", mode: "lines", x: points.map(function (p) { return p[0]; }),
                    y: points.map(function (p) { return p[1]; }), line: { color: C.palette[0], width: 2 }, name: y }];
    if (diagonal) traces.push({ type: "scatter", mode: "lines", x: [0, 1], y: [0, 1], line: { color: "#c7cbd3", dash: "dot" }, hoverinfo: "skip", name: "chance" });
    Plotly.newPlot(el, traces, Object.assign({}, layout, { showlegend: false,
      xaxis: { title: { text: x }, range: [0, 1] }, yaxis: { title: { text: y }, range: [0, 1.02] } }), config);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var grid = page.querySelector("[data-curves]");
    var groups = {};
    Object.keys(data.series).forEach(function (key) {
      var cut = key.indexOf(":");
      var metric = cut > 0 ? key.slice(cut + 1) : key;
      (groups[metric] = groups[metric] || {})[cut > 0 ? key.slice(0, cut) : key] = data.series[key];
    });
    Object.keys(groups).sort().forEach(function (metric) {
      var card = document.createElement("div");
      card.className = "card";
      card.innerHTML = "<div class='card-head'><h2 class='mono'></h2></div>";
      card.querySelector("h2").textContent = metric;
      var el = document.createElement("div");
      el.className = "chart";
      card.appendChild(el);
      grid.appendChild(card);
      C.curves(el, metric, groups[metric]);
    });
    var curves = data.curves || {};
    if (curves.confusion) {
      show("confusion");
      page.querySelector("[data-channel]").textContent = "on the " + curves.channel + " channel: rows are the truth";
      Plotly.newPlot(page.querySelector("[data-confusion]"), [{
        type: "heatmap", z: curves.confusion, x: curves.classes, y: curves.classes, colorscale: "Blues", reversescale: true,
        text: curves.confusion, texttemplate: "%{text}", hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>",
      }], Object.assign({}, layout, { xaxis: { title: { text: "predicted" }, type: "category" },
        yaxis: { title: { text: "true" }, type: "category", autorange: "reversed" } }), config);
    }
    if (curves.roc) { show("roc"); line(page.querySelector("[data-roc]"), curves.roc, "false positive rate", "true positive rate", true); }
    if (curves.pr) { show("pr"); line(page.querySelector("[data-pr]"), curves.pr, "recall", "precision", false); }
    var names = Object.keys(data.importance || {}).slice(0, 20);
    if (names.length) {
      show("importance");
      C.bars(page.querySelector("[data-importance]"), "share of importance", names, names.map(function (k) { return data.importance[k]; }));
    }
  });
})();
