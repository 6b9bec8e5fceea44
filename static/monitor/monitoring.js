/* The Monitoring section's pages: alerts marked read, a baseline's charts and constraints
   editor (it polls while the baseline is computed), and a schedule's actions and trend. */
(function () {
  "use strict";

  var F = window.SextantForms;

  function send(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "X-CSRFToken": F.csrf(), Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = {};
        try { data = text ? JSON.parse(text) : {}; } catch (e) { data = { detail: text }; }
        return { ok: r.ok, status: r.status, data: data };
      });
    });
  }

  function message(res) {
    var e = res.data.error;
    return e ? e.message + (e.field ? " (" + e.field + ")" : "") : res.data.detail || "The studio refused (" + res.status + ").";
  }

  function visible(el) { return !el.closest("[hidden]"); }

  // ------------------------------------------------------------------ home: alerts
  function alerts() {
    var card = document.querySelector("[data-alerts]");
    var button = card && card.querySelector("[data-mark-read]");
    if (!button) return;
    button.addEventListener("click", function () {
      button.disabled = true;
      send("POST", card.dataset.api, { project: Number(card.dataset.project) }).then(function (res) {
        if (res.ok) { location.hash = "alerts"; location.reload(); return; }
        button.disabled = false;
        card.querySelector("[data-alert-error-text]").textContent = message(res);
        card.querySelector("[data-alert-error]").hidden = false;
      });
    });
  }

  // ------------------------------------------------------------------ baseline
  function baseline(root) {
    if (root.dataset.poll) {
      setInterval(function () {
        send("GET", root.dataset.api).then(function (res) {
          if (res.ok && res.data.status !== root.dataset.status) location.reload();
        });
      }, 3000);
    }
    var charts = JSON.parse(document.getElementById("baseline-charts").textContent);
    var importance = JSON.parse(document.getElementById("baseline-importance").textContent);

    function drawVisible() {
      if (typeof Plotly === "undefined") return;
      root.querySelectorAll("[data-mini-chart]").forEach(function (el) {
        if (el.dataset.rendered || !visible(el)) return;
        var col = charts[Number(el.dataset.miniChart)];
        if (col) MonitorCharts.mini(el, col);
      });
      var imp = root.querySelector("[data-importance-chart]");
      if (imp && !imp.dataset.rendered && visible(imp)) {
        MonitorCharts.hbars(imp, importance.map(function (r) { return r.feature; }),
          [{ name: "", values: importance.map(function (r) { return r.mean_abs_shap; }) }],
          { xtitle: "mean |SHAP value|", filename: "baseline-importance" });
      }
    }
    document.addEventListener("studio:shown", drawVisible);
    drawVisible();

    var form = root.querySelector("[data-constraints-form]");
    if (!form || !form.querySelector("[data-submit]")) return;
    var text = form.querySelector("[data-constraints]");
    var saved = form.querySelector("[data-saved]");
    text.addEventListener("input", function () { saved.hidden = true; });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      F.clearErrors(form);
      saved.hidden = true;
      var doc;
      try { doc = JSON.parse(text.value); } catch (e) {
        F.showError(form, { field: "constraints", message: "Not valid JSON: " + e.message }, "");
        return;
      }
      var button = form.querySelector("[data-submit]");
      button.disabled = true;
      send("PATCH", root.dataset.api, { constraints: doc }).then(function (res) {
        button.disabled = false;
        if (res.ok) {
          text.value = JSON.stringify(res.data.constraints, null, 2);
          saved.textContent = "Saved: the next executions check these constraints.";
          saved.hidden = false;
          return;
        }
        // The field names the place in the document ("constraints.monitoring_config…"):
        // the message and that path go under the editor.
        var error = res.data.error || { message: message(res) };
        F.showError(form, {
          field: "constraints",
          message: error.message + (error.field && error.field !== "constraints" ? " — at " + error.field : ""),
        }, "The constraints could not be saved.");
      }).catch(function () {
        button.disabled = false;
        F.showError(form, { field: "constraints", message: "The studio could not be reached; try again." }, "");
      });
    });
  }

  // ------------------------------------------------------------------ schedule
  function schedule(root) {
    var box = root.querySelector("[data-action-error]");
    function fail(res) {
      box.querySelector("[data-action-error-text]").textContent = message(res);
      box.hidden = false;
    }
    var run = root.querySelector("[data-run-now-button]");
    if (run) {
      run.addEventListener("click", function () {
        run.disabled = true;
        box.hidden = true;
        send("POST", root.dataset.runNow).then(function (res) {
          if (res.ok) { location.href = root.dataset.executionUrl.replace("{id}", res.data.execution); return; }
          run.disabled = false;
          fail(res);
        });
      });
    }
    root.querySelectorAll("[data-set-status]").forEach(function (button) {
      button.addEventListener("click", function () {
        button.disabled = true;
        send("PATCH", root.dataset.api, { status: button.dataset.setStatus }).then(function (res) {
          if (res.ok) { location.reload(); return; }
          button.disabled = false;
          fail(res);
        });
      });
    });
    var del = root.querySelector("[data-delete]");
    if (del) {
      del.addEventListener("click", function () {
        if (!window.confirm(del.dataset.confirm)) return;
        del.disabled = true;
        send("DELETE", root.dataset.api).then(function (res) {
          if (res.ok) { location.href = root.dataset.list; return; }
          del.disabled = false;
          fail(res);
        });
      });
    }

    var chart = root.querySelector("[data-trend-chart]");
    if (!chart || typeof Plotly === "undefined") return;
    var trend = JSON.parse(document.getElementById("schedule-trend").textContent);
    var shown = trend.shown.slice();
    var executionUrl = root.dataset.executionUrl;
    // Scores of different kinds share the axis: past two orders of magnitude apart, a log
    // axis keeps the small ones readable (a toggle switches it).
    var scale = root.querySelector("[data-trend-scale]");
    var log = MonitorCharts.spread(trend.points, shown) > 100;
    scale.hidden = false;
    scale.querySelector('input[value="' + (log ? "log" : "linear") + '"]').checked = true;
    scale.addEventListener("change", function () {
      log = scale.querySelector("input:checked").value === "log";
      redraw();
    });
    function redraw() {
      MonitorCharts.trend(chart, trend.points, shown, {
        ytitle: log ? "score (log scale)" : "score", filename: "schedule-trend", log: log,
        onClick: function (id) { location.href = executionUrl.replace("{id}", id); },
      });
    }
    var pick = root.querySelector("[data-trend-pick]");
    if (pick) {
      pick.addEventListener("change", function () {
        var name = pick.value;
        if (!name) return;
        var at = shown.indexOf(name);
        if (at >= 0) shown.splice(at, 1); else shown.push(name);
        pick.value = "";
        redraw();
      });
    }
    redraw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    alerts();
    var b = document.querySelector("[data-baseline-page]");
    if (b) baseline(b);
    var s = document.querySelector("[data-schedule-page]");
    if (s) schedule(s);
  });
})();
