/* Sextant's charts: one palette, one look, plotly underneath, drawn only once visible
   (plotly measures its container, and a hidden tab has no size). */
(function () {
  "use strict";

  var PALETTE = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#64748b"];
  var FONT = { family: getComputedStyle(document.body).fontFamily, size: 11, color: "#4b5160" };
  var GRID = "#eef0f3";

  function config(filename) {
    return {
      displaylogo: false,
      responsive: true,
      modeBarButtons: [["toImage"]],
      toImageButtonOptions: { format: "png", filename: filename || "sextant-chart", scale: 2 },
    };
  }

  function fmt(n) {
    if (n === null || n === undefined || !isFinite(n)) return "—";
    var a = Math.abs(n);
    if (a !== 0 && (a >= 1e7 || a < 1e-3)) return n.toExponential(2);
    return Number(n.toPrecision(4)).toLocaleString("en-US");
  }

  // A mini-histogram of one profiled column: equal-width bins from the profile's edges.
  function histogram(el, col) {
    var h = col.histogram;
    if (!h || !h.counts || !h.counts.length) return;
    var isDate = col.kind === "datetime";
    var x = [], width = [], ranges = [];
    for (var i = 0; i < h.counts.length; i++) {
      var lo = h.edges[i], hi = h.edges[i + 1];
      if (isDate) {
        x.push(new Date(((lo + hi) / 2) * 1000).toISOString());
        width.push((hi - lo) * 1000 * 0.92);
        ranges.push([new Date(lo * 1000).toISOString().slice(0, 19).replace("T", " "),
                     new Date(hi * 1000).toISOString().slice(0, 19).replace("T", " ")]);
      } else {
        x.push((lo + hi) / 2);
        width.push((hi - lo) * 0.92);
        ranges.push([fmt(lo), fmt(hi)]);
      }
    }
    var trace = {
      type: "bar", x: x, y: h.counts, width: width, customdata: ranges,
      marker: { color: PALETTE[0], opacity: 0.85 },
      hovertemplate: "%{customdata[0]} – %{customdata[1]}<br><b>%{y:,}</b> rows<extra></extra>",
    };
    var layout = {
      margin: { l: 34, r: 6, t: 4, b: 22 }, height: el.clientHeight || 120,
      font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      bargap: 0, showlegend: false,
      xaxis: { showgrid: false, zeroline: false, ticks: "", nticks: 5, type: isDate ? "date" : "linear",
               linecolor: "#d3d6dd", showline: true, fixedrange: true },
      yaxis: { gridcolor: GRID, zeroline: false, nticks: 3, tickformat: "~s", fixedrange: true },
      hoverlabel: { bgcolor: "#16181d", bordercolor: "#16181d", font: { color: "#fff", size: 11 } },
    };
    Plotly.newPlot(el, [trace], layout, config("histogram-" + col.name));
  }

  // The first drawing of a chart, or an update of one already drawn (live charts).
  function draw(el, traces, layout, filename) {
    if (el.dataset.rendered) {
      Plotly.react(el, traces, layout, config(filename));
    } else {
      Plotly.newPlot(el, traces, layout, config(filename));
      el.dataset.rendered = "1";
    }
  }

  // A metric's curve over steps, titled by the card, axes named.
  function metric(el, name, points, colorIndex) {
    var many = points.length > 60;
    var trace = {
      type: "scatter", mode: many ? "lines" : "lines+markers", name: name,
      x: points.map(function (p) { return p[0]; }),
      y: points.map(function (p) { return p[1]; }),
      line: { color: PALETTE[(colorIndex || 0) % PALETTE.length], width: 2, shape: "linear" },
      marker: { size: 5 },
      hovertemplate: "step %{x}<br><b>%{y:.5g}</b><extra>" + name + "</extra>",
    };
    var layout = {
      margin: { l: 60, r: 18, t: 10, b: 44 }, height: el.clientHeight || 300,
      font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      showlegend: false, hovermode: "x",
      xaxis: { title: { text: "step" }, gridcolor: GRID, zeroline: false, linecolor: "#d3d6dd" },
      yaxis: { title: { text: name }, gridcolor: GRID, zeroline: false, tickformat: "~g" },
      hoverlabel: { bgcolor: "#16181d", bordercolor: "#16181d", font: { color: "#fff", size: 11 } },
    };
    draw(el, [trace], layout, name);
  }

  // Several curves over steps on one chart (train and validation of one metric), with a
  // legend; series is {name: [[step, value], ...]}.
  function curves(el, title, series) {
    var names = Object.keys(series);
    var traces = names.map(function (name, i) {
      var points = series[name];
      return {
        type: "scatter", mode: points.length > 60 ? "lines" : "lines+markers", name: name,
        x: points.map(function (p) { return p[0]; }),
        y: points.map(function (p) { return p[1]; }),
        line: { color: PALETTE[i % PALETTE.length], width: 2 }, marker: { size: 5 },
        hovertemplate: "step %{x}<br><b>%{y:.5g}</b><extra>" + name + "</extra>",
      };
    });
    var layout = {
      margin: { l: 60, r: 18, t: 10, b: 44 }, height: el.clientHeight || 280,
      font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      showlegend: true, legend: { orientation: "h", y: 1.12, x: 0 }, hovermode: "x",
      xaxis: { title: { text: "step" }, gridcolor: GRID, zeroline: false, linecolor: "#d3d6dd" },
      yaxis: { title: { text: title }, gridcolor: GRID, zeroline: false, tickformat: "~g" },
      hoverlabel: { bgcolor: "#16181d", bordercolor: "#16181d", font: { color: "#fff", size: 11 } },
    };
    draw(el, traces, layout, title);
  }

  // Horizontal bars, largest on top (feature importances).
  function bars(el, title, labels, values) {
    var trace = {
      type: "bar", orientation: "h", x: values.slice().reverse(), y: labels.slice().reverse(),
      marker: { color: PALETTE[0] },
      hovertemplate: "%{y}<br><b>%{x:.3f}</b><extra></extra>",
    };
    var layout = {
      margin: { l: 160, r: 18, t: 10, b: 40 }, height: Math.max(160, 22 * labels.length + 60),
      font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      xaxis: { title: { text: title }, gridcolor: GRID, zeroline: false, tickformat: "~g" },
      yaxis: { automargin: true },
    };
    Plotly.newPlot(el, [trace], layout, config(title));
    el.dataset.rendered = "1";
  }

  // A chart described by the server (a debugger rule's plot): kind "lines" over steps or
  // "bars"; traces [{name, x, y}]; threshold drawn dashed across y (or down x).
  function figure(el, fig, filename) {
    var lines = fig.kind === "lines";
    var traces = fig.traces.map(function (t, i) {
      var color = PALETTE[i % PALETTE.length];
      if (!lines) {
        return { type: "bar", name: t.name, x: t.x.map(String), y: t.y, marker: { color: color },
                 hovertemplate: "%{x}<br><b>%{y:.4g}</b><extra></extra>" };
      }
      return {
        type: "scatter", mode: t.x.length > 60 ? "lines" : "lines+markers", name: t.name,
        x: t.x, y: t.y, connectgaps: false, line: { color: color, width: 2 }, marker: { size: 5 },
        hovertemplate: fig.x_title + " %{x}<br><b>%{y:.5g}</b><extra>" + t.name + "</extra>",
      };
    });
    var shapes = [];
    if (fig.threshold !== null && fig.threshold !== undefined) {
      var line = { color: "#ef4444", width: 1.5, dash: "dash" };
      if (fig.threshold_axis === "x") {
        shapes.push({ type: "line", xref: "x", yref: "paper", x0: fig.threshold, x1: fig.threshold,
                      y0: 0, y1: 1, line: line });
      } else {
        shapes.push({ type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: fig.threshold,
                      y1: fig.threshold, line: line });
      }
    }
    var layout = {
      margin: { l: 60, r: 18, t: 10, b: 44 }, height: el.clientHeight || 240,
      font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      showlegend: traces.length > 1, legend: { orientation: "h", y: 1.14, x: 0 },
      hovermode: lines ? "x" : "closest", shapes: shapes, bargap: 0.25,
      xaxis: { title: { text: fig.x_title }, gridcolor: GRID, zeroline: false, linecolor: "#d3d6dd",
               type: lines || fig.threshold_axis === "x" ? "linear" : "category", automargin: true },
      yaxis: { title: { text: fig.y_title }, gridcolor: GRID, zeroline: false,
               type: fig.log_y ? "log" : "linear", tickformat: fig.log_y ? "" : "~g", automargin: true },
      hoverlabel: { bgcolor: "#16181d", bordercolor: "#16181d", font: { color: "#fff", size: 11 } },
    };
    draw(el, traces, layout, filename);
  }

  function visible(el) { return !el.closest("[hidden]"); }

  function drawPending(root) {
    if (typeof Plotly === "undefined") return;
    var profile = document.getElementById("profile-data");
    var columns = profile ? JSON.parse(profile.textContent) : [];
    root.querySelectorAll("[data-histogram]").forEach(function (el) {
      if (el.dataset.rendered || !visible(el)) return;
      var col = columns[Number(el.dataset.histogram)];
      if (col) { histogram(el, col); el.dataset.rendered = "1"; }
    });
    var metrics = document.getElementById("metric-data");
    if (metrics) {
      var data = JSON.parse(metrics.textContent);
      var i = 0;
      root.querySelectorAll("[data-metric-chart]").forEach(function (el) {
        var name = el.dataset.metricChart;
        if (!el.dataset.rendered && visible(el) && data[name]) metric(el, name, data[name], i);
        i++;
      });
    }
  }

  // Load plotly only when a page first needs it (a job whose metrics appear while it runs).
  var loading = null;
  function ensurePlotly(url) {
    if (typeof Plotly !== "undefined") return Promise.resolve();
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = url; s.onload = resolve; s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return loading;
  }

  // Live series over wall-clock time, one trace per name: series is
  // {name: {x: [iso times], y: [values], dash: bool}}; yTitle names the unit.
  function timeseries(el, yTitle, series, filename) {
    var names = Object.keys(series);
    var traces = names.map(function (name, i) {
      var s = series[name];
      return {
        type: "scatter", mode: s.x.length > 40 ? "lines" : "lines+markers", name: name,
        x: s.x, y: s.y, connectgaps: false,
        line: { color: PALETTE[(s.color === undefined ? i : s.color) % PALETTE.length], width: 2,
                dash: s.dash ? "dot" : "solid" },
        marker: { size: 4 },
        hovertemplate: "%{x|%H:%M:%S}<br><b>%{y:.4g}</b> " + yTitle + "<extra>" + name + "</extra>",
      };
    });
    var layout = {
      margin: { l: 56, r: 14, t: 8, b: 36 }, height: el.clientHeight || 220,
      font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      showlegend: names.length > 0, legend: { orientation: "h", y: 1.16, x: 0 }, hovermode: "x",
      xaxis: { type: "date", gridcolor: GRID, zeroline: false, linecolor: "#d3d6dd", tickformat: "%H:%M:%S" },
      yaxis: { title: { text: yTitle }, gridcolor: GRID, zeroline: false, rangemode: "tozero", tickformat: "~g" },
      hoverlabel: { bgcolor: "#16181d", bordercolor: "#16181d", font: { color: "#fff", size: 11 } },
    };
    draw(el, traces, layout, filename);
  }

  // Shares of a whole (the traffic split): labels and values, in the palette's order.
  function donut(el, labels, values, filename) {
    var trace = {
      type: "pie", hole: 0.6, labels: labels, values: values, sort: false,
      marker: { colors: labels.map(function (_, i) { return PALETTE[i % PALETTE.length]; }) },
      textinfo: "percent", hovertemplate: "%{label}<br><b>%{value:,}</b> calls (%{percent})<extra></extra>",
    };
    var layout = {
      margin: { l: 8, r: 8, t: 8, b: 8 }, height: el.clientHeight || 220, font: FONT,
      paper_bgcolor: "rgba(0,0,0,0)", showlegend: true, legend: { orientation: "v", x: 1, y: 0.5 },
    };
    draw(el, [trace], layout, filename);
  }

  document.addEventListener("studio:shown", function (ev) { drawPending(ev.target); });
  document.addEventListener("DOMContentLoaded", function () { drawPending(document); });

  window.SextantCharts = { palette: PALETTE, histogram: histogram, metric: metric,
                           curves: curves, bars: bars, figure: figure, ensurePlotly: ensurePlotly, fmt: fmt,
                           timeseries: timeseries, donut: donut };
})();
