/* A job page that follows its job: the websocket /ws/jobs/<id>/ first, polling the REST API
   every 2 s when the websocket cannot be had. The page is rendered complete by the server
   (status, progress, the last log lines), so a reload loses nothing; this only adds what is
   new, skipping log lines it already shows (their ids only grow). */
(function () {
  "use strict";

  var root = document.querySelector("[data-job]");
  if (!root) return;

  var jobId = root.dataset.job;
  var active = (root.dataset.active || "").split(",");
  var status = root.dataset.status;
  var startedActive = active.indexOf(status) !== -1;
  var lastLogId = parseInt(root.dataset.lastLog || "0", 10);
  var live = root.querySelector("[data-live]");
  var pollTimer = null;
  var metricsTimer = null;
  var finishedReload = false;

  function isActive(s) { return active.indexOf(s) !== -1; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  // Times are shown in UTC, like the server renders them.
  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }
  function stamp(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    if (isNaN(d)) return "—";
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + clock(iso);
  }

  function setLive(mode, text) {
    if (!live) return;
    live.classList.toggle("is-live", mode === "live");
    live.classList.toggle("is-polling", mode === "polling");
    live.textContent = text;
  }

  function setField(name, value) {
    root.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) { el.textContent = value; });
  }

  function applyJob(job) {
    var previous = status;
    status = job.status;
    var slug = status.toLowerCase();

    root.querySelectorAll("[data-status-badge]").forEach(function (el) {
      el.className = el.className.replace(/badge-(pending|starting|running|completed|failed|stopping|stopped)/, "badge-" + slug);
      el.textContent = status;
    });

    var pct = Math.round(100 * (job.progress || 0));
    var bar = root.querySelector("[data-progress]");
    if (bar) {
      bar.querySelector("span").style.width = pct + "%";
      bar.setAttribute("aria-valuenow", String(pct));
      bar.classList.toggle("is-done", status === "Completed");
      bar.classList.toggle("is-failed", status === "Failed");
      bar.classList.toggle("is-stopped", status === "Stopped" || status === "Stopping");
      bar.classList.toggle("is-pending", status === "Pending");
    }
    var pctEl = root.querySelector("[data-progress-pct]");
    if (pctEl) pctEl.textContent = pct + "%";

    var pendingBox = root.querySelector("[data-pending-box]");
    if (pendingBox) {
      pendingBox.hidden = status !== "Pending";
      setField("pending_reason", job.pending_reason || "Queued; a worker on this queue will pick it up.");
    }
    var failureBox = root.querySelector("[data-failure-box]");
    if (failureBox) {
      failureBox.hidden = !job.failure_reason;
      setField("failure_reason", job.failure_reason || "");
    }
    setField("attempts", String(job.attempts));
    setField("worker", job.worker || "no worker yet");
    setField("started_at", stamp(job.started_at));
    setField("finished_at", stamp(job.finished_at));

    root.querySelectorAll("[data-when=active]").forEach(function (f) { f.hidden = !isActive(status); });
    root.querySelectorAll("[data-when=retryable]").forEach(function (f) {
      f.hidden = !(status === "Failed" || status === "Stopped");
    });

    // Outputs, durations and metrics are rendered by the server: once the job has ended,
    // one reload shows them all (the tab is kept in the URL's hash).
    if (!isActive(status) && isActive(previous) && startedActive && !finishedReload) {
      finishedReload = true;
      setLive("", "Finished");
      setTimeout(function () { location.reload(); }, 900);
    }
  }

  function appendLogs(lines) {
    var fresh = lines.filter(function (l) { return l.id > lastLogId; });
    if (!fresh.length) return;
    lastLogId = fresh[fresh.length - 1].id;
    root.querySelectorAll("[data-logbox]").forEach(function (box) {
      var nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
      var empty = box.querySelector(".empty-log");
      if (empty) empty.remove();
      var frag = document.createDocumentFragment();
      fresh.forEach(function (l) {
        var row = document.createElement("div");
        row.className = "line " + (l.level || "info");
        row.dataset.id = l.id;
        var t = document.createElement("span");
        t.className = "t"; t.textContent = clock(l.created_at); t.title = l.created_at;
        var lvl = document.createElement("span");
        lvl.className = "lvl"; lvl.textContent = l.level || "info";
        var msg = document.createElement("span");
        msg.className = "msg"; msg.textContent = l.message;
        row.append(t, lvl, msg);
        frag.appendChild(row);
      });
      box.appendChild(frag);
      var keep = parseInt(box.dataset.keep || "2000", 10);
      while (box.children.length > keep) box.removeChild(box.firstElementChild);
      if (nearBottom) box.scrollTop = box.scrollHeight;
    });
    var count = root.querySelector("[data-log-count]");
    if (count) count.textContent = String(parseInt(count.textContent || "0", 10) + fresh.length);
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }

  function poll() {
    getJSON(root.dataset.api)
      .then(function (job) {
        applyJob(job);
        return getJSON(root.dataset.logsApi + "?after=" + lastLogId);
      })
      .then(function (lines) {
        appendLogs(lines);
        setLive("polling", isActive(status) ? "Polling every 2 s" : "Finished");
      })
      .catch(function () { setLive("", "Offline, retrying"); })
      .then(function () {
        if (isActive(status)) pollTimer = setTimeout(poll, 2000);
      });
  }

  function startPolling() {
    if (pollTimer) return;
    pollTimer = setTimeout(poll, 0);
  }

  function connect() {
    if (!("WebSocket" in window)) { startPolling(); return; }
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws;
    try {
      ws = new WebSocket(proto + "//" + location.host + "/ws/jobs/" + jobId + "/");
    } catch (e) {
      startPolling();
      return;
    }
    var opened = false;
    var guard = setTimeout(function () { if (!opened) { ws.close(); startPolling(); } }, 5000);
    ws.onopen = function () { opened = true; clearTimeout(guard); setLive("live", "Live"); };
    ws.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (data.type !== "job") return;
      if (data.job) applyJob(data.job);
      if (data.logs) appendLogs(data.logs);
    };
    ws.onerror = function () { /* onclose follows and decides */ };
    ws.onclose = function (ev) {
      clearTimeout(guard);
      if (finishedReload) return;
      if (ev.code === 4404 || ev.code === 4401) { setLive("", "Not available"); return; }
      startPolling();
    };
  }

  // Metrics of a running job: refreshed every 5 s while the Metrics tab is open.
  function refreshMetrics() {
    var panel = document.querySelector('[data-panel="metrics"]');
    if (!panel || panel.hidden || !window.SextantCharts) return;
    getJSON(root.dataset.metricsApi).then(function (data) {
      var names = Object.keys(data);
      if (!names.length) return;
      if (!panel.querySelector("[data-metric-chart]")) {
        location.reload();  // the first metrics arrived: let the server lay the cards out
        return;
      }
      window.SextantCharts.ensurePlotly(root.dataset.plotly).then(function () {
        names.forEach(function (name, i) {
          var points = data[name].map(function (p) { return [p.step, p.value]; });
          var chart = panel.querySelector('[data-metric-chart="' + CSS.escape(name) + '"]');
          if (chart) window.SextantCharts.metric(chart, name, points, i);
          var body = panel.querySelector('[data-metric-table="' + CSS.escape(name) + '"]');
          if (body) {
            body.innerHTML = "";
            points.forEach(function (p) {
              var tr = document.createElement("tr");
              var a = document.createElement("td"); a.className = "num"; a.textContent = p[0];
              var b = document.createElement("td"); b.className = "num"; b.textContent = Number(p[1].toPrecision(6)).toString();
              tr.append(a, b);
              body.appendChild(tr);
            });
          }
        });
      });
    }).catch(function () {});
  }

  document.addEventListener("DOMContentLoaded", function () {
    root.querySelectorAll("[data-logbox]").forEach(function (box) { box.scrollTop = box.scrollHeight; });
    if (!isActive(status)) return;  // a finished job has nothing more to say
    connect();
    metricsTimer = setInterval(function () { if (isActive(status)) refreshMetrics(); }, 5000);
  });
})();
