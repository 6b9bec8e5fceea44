/* The monitor's charts, in the studio's look (studio/charts.js: palette, fonts, PNG
   download): mini histograms of a baseline's columns, baseline-vs-current distributions
   overlaid, score trends across executions, importance bars, a confusion matrix and the
   Clarify report's bias bars, dependence scatter and per-row waterfall. */
(function () {
  "use strict";

  var C = window.SextantCharts;
  var PALETTE = C.palette;
  var REFERENCE = "#7c8db5";
  var CURRENT = "#f59e0b";
  var GRID = "#eef0f3";
  var FONT = { family: getComputedStyle(document.body).fontFamily, size: 11, color: "#4b5160" };
  var HOVER = { bgcolor: "#16181d", bordercolor: "#16181d", font: { color: "#fff", size: 11 } };

  function config(filename, bare) {
    return {
      displaylogo: false, responsive: true,
      modeBarButtons: bare ? false : [["toImage"]], displayModeBar: bare ? false : "hover",
      toImageButtonOptions: { format: "png", filename: filename || "sextant-chart", scale: 2 },
    };
  }

  function layout(el, extra) {
    var base = {
      margin: { l: 56, r: 14, t: 10, b: 40 }, height: el.clientHeight || 260, font: FONT,
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", hoverlabel: HOVER,
    };
    Object.keys(extra || {}).forEach(function (k) { base[k] = extra[k]; });
    return base;
  }

  function draw(el, traces, lay, filename, bare) {
    if (el.dataset.rendered) Plotly.react(el, traces, lay, config(filename, bare));
    else { Plotly.newPlot(el, traces, lay, config(filename, bare)); el.dataset.rendered = "1"; }
  }

  function empty(el, text) {
    if (el.dataset.rendered) { Plotly.purge(el); delete el.dataset.rendered; }
    el.innerHTML = '<div class="chart-empty"></div>';
    el.firstChild.textContent = text;
  }

  // Quantile buckets hold about equal counts, so drawn as they are every column looks flat:
  // spread each bucket's count evenly over its width and re-bin on equal-width bins.
  function rebin(edges, counts, bins) {
    var lo = edges[0], hi = edges[edges.length - 1];
    if (!(hi > lo)) return { x: [lo], y: [counts.reduce(function (a, b) { return a + b; }, 0)], width: [1] };
    var step = (hi - lo) / bins, out = new Array(bins).fill(0);
    // The outer buckets (below the first edge, above the last) fold into the end bins.
    out[0] += counts[0] || 0;
    out[bins - 1] += counts[counts.length - 1] || 0;
    for (var i = 0; i + 1 < edges.length; i++) {
      var a = edges[i], b = edges[i + 1], n = counts[i + 1] || 0;
      if (!n) continue;
      if (!(b > a)) { out[Math.min(bins - 1, Math.floor((a - lo) / step))] += n; continue; }
      for (var j = Math.max(0, Math.floor((a - lo) / step)); j < bins; j++) {
        var s = lo + j * step, e = s + step;
        if (s >= b) break;
        var overlap = Math.min(b, e) - Math.max(a, s);
        if (overlap > 0) out[j] += n * overlap / (b - a);
      }
    }
    var x = [], width = [];
    for (var k = 0; k < bins; k++) { x.push(lo + (k + 0.5) * step); width.push(step * 0.92); }
    return { x: x, y: out, width: width };
  }

  // One baseline column: numbers as an equal-width histogram, categories as top values.
  function mini(el, col) {
    var trace;
    if (col.kind === "numeric") {
      var h = rebin(col.edges, col.counts, 24);
      trace = { type: "bar", x: h.x, y: h.y, width: h.width, marker: { color: PALETTE[0], opacity: 0.85 },
                hovertemplate: "≈ %{x:.4g}<br><b>%{y:,.0f}</b> rows<extra></extra>" };
    } else {
      trace = { type: "bar", x: col.labels, y: col.counts, marker: { color: PALETTE[5], opacity: 0.85 },
                hovertemplate: "%{x}<br><b>%{y:,}</b> rows<extra></extra>" };
    }
    draw(el, [trace], layout(el, {
      margin: { l: 4, r: 4, t: 2, b: 2 }, height: el.clientHeight || 64, bargap: col.kind === "numeric" ? 0 : 0.2,
      showlegend: false, xaxis: { visible: false, fixedrange: true, type: col.kind === "numeric" ? "linear" : "category" },
      yaxis: { visible: false, fixedrange: true },
    }), "histogram-" + col.name, true);
  }

  // Baseline vs current of one drift column, overlaid: numbers as densities over the
  // histogram's bins (their widths differ), categories as the share of each value.
  function overlay(el, col) {
    var h = col.histogram || {};
    if (!h.edges || !h.edges.length || !h.reference || !h.reference.length) {
      empty(el, "No distribution to show for " + col.name + ".");
      return;
    }
    var traces, xaxis, ytitle;
    var pct = function (v) { return (100 * v).toFixed(1) + "%"; };
    if (col.kind === "numeric") {
      var x = [], w = [], ranges = [], refD = [], curD = [];
      for (var i = 0; i < h.reference.length; i++) {
        var a = h.edges[i], b = h.edges[i + 1], width = b - a || 1;
        x.push((a + b) / 2); w.push(width);
        ranges.push(C.fmt(a) + " – " + C.fmt(b));
        refD.push(h.reference[i] / width); curD.push(h.current[i] / width);
      }
      var custom = function (fr) { return ranges.map(function (r, i) { return [r, pct(fr[i])]; }); };
      traces = [
        { type: "bar", name: "baseline", x: x, y: refD, width: w, customdata: custom(h.reference), marker: { color: REFERENCE, line: { width: 0 } }, opacity: 0.6,
          hovertemplate: "%{customdata[0]}<br>baseline <b>%{customdata[1]}</b><extra></extra>" },
        { type: "bar", name: "this window", x: x, y: curD, width: w, customdata: custom(h.current), marker: { color: CURRENT, line: { width: 0 } }, opacity: 0.6,
          hovertemplate: "%{customdata[0]}<br>this window <b>%{customdata[1]}</b><extra></extra>" },
      ];
      xaxis = { title: { text: col.name }, gridcolor: GRID, zeroline: false, linecolor: "#d3d6dd" };
      ytitle = "density (share per unit)";
    } else {
      traces = [
        { type: "bar", name: "baseline", x: h.edges, y: h.reference, marker: { color: REFERENCE }, opacity: 0.6,
          hovertemplate: "%{x}<br>baseline <b>%{y:.1%}</b><extra></extra>" },
        { type: "bar", name: "this window", x: h.edges, y: h.current, marker: { color: CURRENT }, opacity: 0.6,
          hovertemplate: "%{x}<br>this window <b>%{y:.1%}</b><extra></extra>" },
      ];
      xaxis = { type: "category", title: { text: col.name }, automargin: true, tickangle: h.edges.length > 8 ? -35 : 0 };
      ytitle = "share of rows";
    }
    draw(el, traces, layout(el, {
      barmode: "overlay", bargap: 0, showlegend: true, legend: { orientation: "h", y: 1.12, x: 0 },
      margin: { l: 56, r: 12, t: 24, b: 48 }, xaxis: xaxis,
      yaxis: { title: { text: ytitle }, gridcolor: GRID, zeroline: false, tickformat: col.kind === "numeric" ? "~g" : ".0%", rangemode: "tozero" },
    }), "distribution-" + col.name);
  }

  // Scores across executions: points [{id, at, status, scores}], one line per name.
  // A date axis; with one execution (or several in the same minute) plotly would zoom to
  // milliseconds: show an hour either side instead.
  function spanOf(points) {
    var axis = { type: "date", gridcolor: GRID, zeroline: false, linecolor: "#d3d6dd" };
    var times = points.map(function (p) { return new Date(p.at).getTime(); }).filter(isFinite);
    if (times.length) {
      var lo = Math.min.apply(null, times), hi = Math.max.apply(null, times);
      if (hi - lo < 60 * 1000) axis.range = [new Date(lo - 3600 * 1000).toISOString(), new Date(hi + 3600 * 1000).toISOString()];
    }
    return axis;
  }

  function trend(el, points, names, opts) {
    opts = opts || {};
    var traces = names.map(function (name, i) {
      var xs = [], ys = [], ids = [];
      points.forEach(function (p) {
        var v = p.scores[name];
        // A log axis has no place for zero: that point is left out rather than drawn at -∞.
        if (v === undefined || v === null || (opts.log && v <= 0)) return;
        xs.push(p.at); ys.push(v); ids.push(p.id);
      });
      return {
        type: "scatter", mode: xs.length > 40 ? "lines" : "lines+markers", name: name, x: xs, y: ys,
        customdata: ids, line: { color: opts.color || PALETTE[i % PALETTE.length], width: 2 }, marker: { size: 6 },
        hovertemplate: "#%{customdata} · %{x|%b %d %H:%M}<br><b>%{y:.4g}</b><extra>" + name + "</extra>",
      };
    });
    var shapes = [];
    if (opts.threshold !== undefined && opts.threshold !== null) {
      shapes.push({ type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: opts.threshold, y1: opts.threshold,
                    line: { color: "#ef4444", width: 1.5, dash: "dash" } });
    }
    var lay = layout(el, {
      showlegend: names.length > 1, legend: { orientation: "h", y: -0.22, x: 0 }, hovermode: "closest", shapes: shapes,
      margin: { l: 56, r: 14, t: 10, b: names.length > 1 ? 70 : 36 },
      xaxis: spanOf(points),
      yaxis: { title: { text: opts.ytitle || "score" }, gridcolor: GRID, zeroline: false, tickformat: "~g",
               type: opts.log ? "log" : "linear" },
    });
    if (opts.current) {
      var at = points.filter(function (p) { return p.id === opts.current; })[0];
      if (at) lay.shapes.push({ type: "line", xref: "x", yref: "paper", x0: at.at, x1: at.at, y0: 0, y1: 1,
                                line: { color: "#a8adb9", width: 1, dash: "dot" } });
    }
    draw(el, traces, lay, opts.filename || "trend");
    if (opts.onClick && !el.dataset.clickBound) {
      el.dataset.clickBound = "1";
      el.on("plotly_click", function (ev) { if (ev.points.length) opts.onClick(ev.points[0].customdata); });
    }
  }

  // How many orders of magnitude the named scores span (a chi-square statistic of 500 next
  // to a share of 0.2 reads only on a log axis).
  function spread(points, names) {
    var lo = Infinity, hi = 0;
    points.forEach(function (p) {
      names.forEach(function (n) {
        var v = p.scores[n];
        if (typeof v === "number" && v > 0) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      });
    });
    return hi > 0 && isFinite(lo) ? hi / lo : 1;
  }

  // Horizontal bars of one or more series over the same labels (largest first on top).
  function hbars(el, labels, series, opts) {
    opts = opts || {};
    var traces = series.map(function (s, i) {
      return { type: "bar", orientation: "h", name: s.name, x: s.values, y: labels, marker: { color: s.color || PALETTE[i % PALETTE.length] },
               customdata: s.custom || null,
               hovertemplate: "%{y}<br><b>%{x:.4g}</b>" + (s.custom ? "<br>%{customdata}" : "") + "<extra>" + (s.name || "") + "</extra>" };
    });
    draw(el, traces, layout(el, {
      height: Math.max(opts.min || 180, (opts.per || 22) * labels.length * Math.max(1, series.length * 0.7) + 70),
      barmode: "group", showlegend: series.length > 1, legend: { orientation: "h", y: 1.08, x: 0 },
      margin: { l: 12, r: 18, t: series.length > 1 ? 28 : 8, b: 40 },
      xaxis: { title: { text: opts.xtitle || "" }, gridcolor: GRID, zeroline: true, zerolinecolor: "#c3c7d0", tickformat: "~g" },
      yaxis: { automargin: true, autorange: "reversed", type: "category" },
    }), opts.filename || "bars");
  }

  // A confusion matrix: counts as a heatmap, the numbers written in each cell.
  function confusion(el, cm) {
    var labels = cm.labels.map(String);
    var z = cm.matrix;
    var text = z.map(function (row) { return row.map(function (v) { return String(v); }); });
    draw(el, [{
      type: "heatmap", x: labels, y: labels, z: z, text: text, texttemplate: "%{text}", colorscale: [[0, "#f5f6ff"], [1, "#4f46e5"]],
      showscale: false, hovertemplate: "true %{y} · predicted %{x}<br><b>%{z:,}</b><extra></extra>",
    }], layout(el, {
      margin: { l: 70, r: 10, t: 10, b: 50 },
      xaxis: { title: { text: "predicted" }, type: "category", side: "bottom" },
      yaxis: { title: { text: "true" }, type: "category", autorange: "reversed" },
    }), "confusion-matrix");
  }

  // SHAP value against the feature's value.
  function dependence(el, name, data) {
    draw(el, [{
      type: "scatter", mode: "markers", x: data.x, y: data.shap, marker: { size: 6, color: PALETTE[1], opacity: 0.55 },
      hovertemplate: name + " %{x}<br>SHAP <b>%{y:.4g}</b><extra></extra>",
    }], layout(el, {
      xaxis: { title: { text: name }, gridcolor: GRID, zeroline: false, automargin: true },
      yaxis: { title: { text: "SHAP value" }, gridcolor: GRID, zeroline: true, zerolinecolor: "#c3c7d0" },
    }), "dependence-" + name);
  }

  // From the expected value to a row's prediction, its largest contributions in order.
  function waterfall(el, base, row, output) {
    var parts = Object.keys(row.attributions).map(function (k) { return [k, row.attributions[k] || 0]; });
    parts.sort(function (a, b) { return Math.abs(b[1]) - Math.abs(a[1]); });
    var shown = parts.slice(0, 12), rest = parts.slice(12).reduce(function (s, p) { return s + p[1]; }, 0);
    if (parts.length > 12) shown.push([(parts.length - 12) + " other features", rest]);
    var y = ["expected value"].concat(shown.map(function (p) { return p[0]; })).concat(["prediction"]);
    var x = [base].concat(shown.map(function (p) { return p[1]; })).concat([0]);
    draw(el, [{
      type: "waterfall", orientation: "h", y: y, x: x,
      measure: ["absolute"].concat(shown.map(function () { return "relative"; })).concat(["total"]),
      increasing: { marker: { color: "#ef4444" } }, decreasing: { marker: { color: "#0ea5e9" } }, totals: { marker: { color: "#64748b" } },
      connector: { line: { color: "#c3c7d0", width: 1 } },
      hovertemplate: "%{y}<br><b>%{x:+.4g}</b><extra></extra>",
    }], layout(el, {
      height: Math.max(240, 24 * y.length + 60), margin: { l: 12, r: 18, t: 8, b: 40 },
      xaxis: { title: { text: output || "model output" }, gridcolor: GRID, zeroline: false, tickformat: "~g" },
      yaxis: { automargin: true, autorange: "reversed", type: "category" },
    }), "row-" + row.index);
  }

  window.MonitorCharts = { mini: mini, overlay: overlay, trend: trend, spread: spread, hbars: hbars, confusion: confusion,
                           dependence: dependence, waterfall: waterfall, empty: empty, fmt: C.fmt, palette: PALETTE };
})();
