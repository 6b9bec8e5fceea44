/* An endpoint's dashboard: live traffic, latency, errors and split from the metrics API
   every two seconds, and the test panel that invokes the endpoint for real. */
(function () {
  "use strict";

  var POLL_MS = 2000;

  var csrf = window.SextantForms.csrf;

  function fmt(n, digits) {
    if (n === null || n === undefined || !isFinite(n)) return "—";
    return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 2 : digits });
  }

  function lastSeconds(v, seconds) {
    // Indexes of the points within the last `seconds` (the series' times are ISO strings).
    var cutoff = Date.now() - seconds * 1000, out = [];
    v.time.forEach(function (t, i) { if (Date.parse(t) >= cutoff) out.push(i); });
    return out;
  }

  function kpis(root, data) {
    var rate = 0, p50w = 0, n = 0, p99 = null, errors = 0;
    Object.keys(data.variants).forEach(function (name) {
      var v = data.variants[name];
      if (v.shadow) return;
      lastSeconds(v, 10).forEach(function (i) {
        rate += v.invocations_per_second[i] / 10;
        var calls = v.invocations_per_second[i];
        if (v.p50_ms[i] !== null) { p50w += v.p50_ms[i] * calls; n += calls; }
        if (v.p99_ms[i] !== null) p99 = Math.max(p99 || 0, v.p99_ms[i]);
      });
      errors += data.totals[name].client_errors + data.totals[name].server_errors;
    });
    root.querySelector('[data-kpi="rate"]').textContent = fmt(rate, 1);
    root.querySelector('[data-kpi="p50"]').innerHTML = n ? fmt(p50w / n, 2) + " <small>ms</small>" : "—";
    root.querySelector('[data-kpi="p99"]').innerHTML = p99 !== null ? fmt(p99, 2) + " <small>ms</small>" : "—";
    root.querySelector('[data-kpi="errors"]').textContent = fmt(errors, 0);
    root.querySelector('[data-kpi-card="errors"]').classList.toggle("is-alert", errors > 0);
  }

  function charts(root, data) {
    var C = window.SextantCharts;
    if (!C || typeof Plotly === "undefined") return;
    var names = Object.keys(data.variants).sort();
    var rate = {}, latency = {}, errors = {};
    names.forEach(function (name, i) {
      var v = data.variants[name];
      var label = v.shadow ? name + " (shadow)" : name;
      rate[label] = { x: v.time, y: v.invocations_per_second, color: i };
      latency[label + " p50"] = { x: v.time, y: v.p50_ms, color: i };
      latency[label + " p99"] = { x: v.time, y: v.p99_ms, color: i, dash: true };
      errors[label] = { x: v.time, y: v.errors, color: i };
    });
    C.timeseries(root.querySelector('[data-chart="rate"]'), "calls/s", rate, "invocations");
    C.timeseries(root.querySelector('[data-chart="latency"]'), "ms", latency, "latency");
    C.timeseries(root.querySelector('[data-chart="errors"]'), "errors/s", errors, "errors");
    var live = names.filter(function (n) { return !data.totals[n].shadow; });
    C.donut(root.querySelector('[data-chart="split"]'), live,
            live.map(function (n) { return data.totals[n].invocations; }), "traffic-split");
    live.forEach(function (n) {
      var cell = root.querySelector('[data-share="' + n + '"]');
      var share = data.totals[n].share;
      if (cell) cell.textContent = share === null ? "—" : fmt(share * 100, 1) + "%";
    });
  }

  function poll(root) {
    fetch(root.dataset.metricsApi + "?seconds=300", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data) { kpis(root, data); charts(root, data); }
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { setTimeout(function () { poll(root); }, POLL_MS); });
  }

  function watchStatus(root) {
    // While a deploy runs the page reloads once it ends, to show the new variants.
    var status = root.dataset.status;
    if (status !== "Creating" && status !== "Updating") return;
    var timer = setInterval(function () {
      fetch(root.dataset.api, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (e) {
          if (e.status !== status) { clearInterval(timer); window.location.reload(); }
        });
    }, 1000);
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }

  function testPanel(root) {
    var panel = root.querySelector("[data-test-invoke]");
    if (!panel) return;
    var type = panel.querySelector("[data-invoke-type]");
    var body = panel.querySelector("[data-invoke-body]");
    var result = panel.querySelector("[data-invoke-result]");
    type.addEventListener("change", function () {
      body.value = type.value === "text/csv" ? body.dataset.csv : body.dataset.json;
    });
    panel.querySelector("[data-invoke-curl]").addEventListener("click", function () {
      var pre = panel.querySelector("[data-invoke-curl-text]");
      pre.hidden = !pre.hidden;
    });
    panel.querySelector("[data-invoke-send]").addEventListener("click", function () {
      var headers = { "Content-Type": type.value, "X-CSRFToken": csrf() };
      var variant = panel.querySelector("[data-invoke-variant]").value;
      if (variant) headers["X-Target-Variant"] = variant;
      var model = panel.querySelector("[data-invoke-model]");
      if (model) headers["X-Target-Model"] = model.value;
      var started = performance.now();
      fetch(root.dataset.invoke, { method: "POST", headers: headers, body: body.value,
                                   credentials: "same-origin" })
        .then(function (r) {
          return r.text().then(function (text) {
            var ms = performance.now() - started;
            var ok = r.status < 400;
            var shown = text;
            try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* CSV */ }
            result.innerHTML =
              '<div class="invoke-meta"><span class="badge ' + (ok ? "badge-completed" : "badge-failed") +
              '">' + r.status + "</span><span>" + fmt(ms, 1) + " ms</span>" +
              (r.headers.get("X-Invoked-Variant") ? "<span>variant <strong class=\"mono\">" +
                escapeHtml(r.headers.get("X-Invoked-Variant")) + "</strong></span>" : "") +
              "</div><pre class=\"mono\">" + escapeHtml(shown) + "</pre>";
          });
        })
        .catch(function (e) { result.textContent = "The request failed: " + e; });
    });
  }

  function deleteButton(root) {
    var button = root.querySelector("[data-delete-endpoint]");
    if (!button) return;
    button.addEventListener("click", function () {
      if (!window.confirm("Delete this endpoint? It stops serving at once.")) return;
      fetch(button.dataset.url, { method: "DELETE", headers: { "X-CSRFToken": csrf() },
                                  credentials: "same-origin" })
        .then(function (r) { if (r.ok) window.location.href = button.dataset.next; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-endpoint-dashboard]");
    if (!root) return;
    poll(root);
    watchStatus(root);
    testPanel(root);
    deleteButton(root);
  });
})();
