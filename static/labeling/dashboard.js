/* A labeling job's dashboard: the stats API every few seconds while the job runs, redrawn in
   place (progress, pace, agreement, charts, labelers, disputed items, model rounds); the
   Items tab's table from the items API; the Stop button's confirmation. */
(function () {
  "use strict";

  var FINISHED = ["Completed", "Failed", "Stopped"];

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function num(n) { return Number(n || 0).toLocaleString("en-US"); }
  function pct(part, whole) { return whole ? (100 * part) / whole : 0; }
  function share(v) { return v === null || v === undefined ? null : 100 * v; }
  function fixed(v, digits) { return v === null ? "—" : v.toFixed(digits); }

  // A label in a few words (the same as labeling.views.label_text).
  function labelText(label) {
    if (label === null || label === undefined) return "—";
    if (typeof label === "string") return label;
    if (Array.isArray(label)) {
      if (!label.length) return "none";
      if (label.every(function (v) { return typeof v === "string"; })) return label.join(", ");
      var names = {};
      label.forEach(function (v) { if (v && typeof v === "object") names[String(v.label)] = 1; });
      return label.length + " · " + Object.keys(names).sort().join(", ");
    }
    if (typeof label === "object") {
      if ("verdict" in label) return label.label === undefined || label.label === null ? "accepted" : "adjusted: " + labelText(label.label);
      return String(label.label === undefined ? "…" : label.label);
    }
    return String(label);
  }

  function votes(answers) {
    var counts = {}, order = [];
    (answers || []).forEach(function (a) {
      var t = labelText(a);
      if (!(t in counts)) { counts[t] = 0; order.push(t); }
      counts[t]++;
    });
    order.sort(function (a, b) { return counts[b] - counts[a]; });
    return order.map(function (t) { return esc(t) + " ×" + counts[t]; }).join(", ");
  }

  function confidence(c) {
    if (c === null || c === undefined) return '<span class="faint">—</span>';
    var p = 100 * c;
    var cls = p < 50 ? " is-bad" : p < 80 ? " is-low" : "";
    return '<span class="lb-conf' + cls + '"><span class="meter"><span style="width:' + p.toFixed(1) +
      '%"></span></span>' + p.toFixed(0) + "%</span>";
  }

  function eta(remainingAnswers, perHour) {
    if (remainingAnswers <= 0) return "nothing left for people";
    if (perHour <= 0) return "no answers in the last hour";
    var hours = remainingAnswers / perHour;
    if (hours < 1) return "about " + Math.max(1, Math.round(hours * 60)) + " min at this pace";
    return "about " + hours.toFixed(1) + " h at this pace";
  }

  function Dashboard(root) {
    this.root = root;
    this.canWrite = root.dataset.canWrite === "1";
    this.csrf = window.SextantForms ? window.SextantForms.csrf() : "";
    this.last = {};
  }

  Dashboard.prototype.set = function (name, html) {
    this.root.querySelectorAll('[data-kpi="' + name + '"]').forEach(function (el) { el.innerHTML = html; });
  };

  // Redraw a list only when its data changed: a button under the pointer stays put.
  Dashboard.prototype.changed = function (key, value) {
    var json = JSON.stringify(value);
    if (this.last[key] === json) return false;
    this.last[key] = json;
    return true;
  };

  Dashboard.prototype.kpis = function (s) {
    var p = s.progress, human = p.human, auto = p.auto;
    var humanPct = pct(human, p.total), autoPct = pct(auto, p.total), donePct = pct(p.done, p.total);
    var bar = this.root.querySelector("[data-bar]");
    bar.querySelector("[data-bar-human]").style.width = humanPct.toFixed(2) + "%";
    bar.querySelector("[data-bar-auto]").style.width = autoPct.toFixed(2) + "%";
    bar.setAttribute("aria-valuenow", donePct.toFixed(1));
    this.set("done", num(p.done));
    this.set("total", num(p.total));
    this.set("done_pct", donePct.toFixed(0) + "%");
    this.set("human", num(human));
    this.set("auto", num(auto));
    this.set("human_pct", "(" + humanPct.toFixed(1) + "%)");
    this.set("auto_pct", "(" + autoPct.toFixed(1) + "%)");
    this.set("open", num(p.open));
    this.set("held", num(p.held));
    this.set("labels_per_hour", num(s.labels_per_hour));
    this.set("agreement", s.agreement === null ? "—" : (100 * s.agreement).toFixed(1) + "<small>%</small>");
    this.set("active_workers", num(s.active_workers));
    var remaining = p.open + p.held;
    this.set("remaining", num(remaining));
    var workers = Number(this.root.dataset.workers || 1);
    this.set("eta", esc(eta(remaining * workers, s.labels_per_hour)));
    var est = share(s.auto_labeling.estimated_accuracy);
    this.set("estimated", est === null ? "—" : est.toFixed(1) + "<small>%</small>");
    var target = this.root.querySelector("[data-auto-target] .fill");
    if (target) target.style.width = (est || 0).toFixed(1) + "%";
  };

  Dashboard.prototype.charts = function (s) {
    var C = window.SextantCharts;
    if (!C || typeof Plotly === "undefined") return;
    var overview = this.root.querySelector('[data-panel="overview"]');
    if (overview && overview.hidden) { this.pendingCharts = s; return; }
    if (this.changed("per_hour", s.per_hour)) {
      // Every hour from the first answer (at most 24 back) to now, empty hours as zeros.
      var counts = {};
      s.per_hour.forEach(function (r) { counts[new Date(r.hour).getTime()] = r.answers; });
      var now = new Date(); now.setMinutes(0, 0, 0);
      var first = s.per_hour.length ? new Date(s.per_hour[0].hour).getTime() : now.getTime();
      var start = Math.max(first, now.getTime() - 23 * 3600e3);
      if (now.getTime() - start < 5 * 3600e3) start = now.getTime() - 5 * 3600e3;
      var x = [], y = [];
      for (var t = start; t <= now.getTime(); t += 3600e3) {
        var d = new Date(t);
        x.push(("0" + d.getHours()).slice(-2) + ":00");
        y.push(counts[t] || 0);
      }
      C.figure(this.root.querySelector('[data-chart="per-hour"]'),
               { kind: "bars", traces: [{ name: "answers", x: x, y: y }], x_title: "hour (local time)",
                 y_title: "answers", threshold: null }, "answers-per-hour");
    }
    if (this.changed("classes", s.class_distribution)) {
      var rows = s.class_distribution;
      C.figure(this.root.querySelector('[data-chart="classes"]'),
               { kind: "bars", traces: [{ name: "labels", x: rows.map(function (r) { return r.label; }),
                                          y: rows.map(function (r) { return r.count; }) }],
                 x_title: "class", y_title: "labels", threshold: null }, "class-distribution");
    }
  };

  Dashboard.prototype.leaderboard = function (s) {
    if (!this.changed("leaderboard", s.leaderboard)) return;
    var body = this.root.querySelector("[data-leaderboard]");
    if (!s.leaderboard.length) return;
    var most = Math.max.apply(null, s.leaderboard.map(function (w) { return w.answers; })) || 1;
    var dash = '<span class="faint">—</span>';
    body.innerHTML = s.leaderboard.map(function (w) {
      var a = share(w.agreement), g = share(w.gold_accuracy);
      return '<tr><td><span class="lb-avatar">' + esc(String(w.worker).charAt(0).toUpperCase()) + "</span>" + esc(w.worker) +
        '</td><td><span class="lb-answers"><span class="n">' + num(w.answers) + '</span><span class="meter"><span style="width:' +
        (100 * w.answers / most).toFixed(1) + '%"></span></span></span></td><td class="num">' +
        (w.mean_seconds === null || w.mean_seconds === undefined ? dash : w.mean_seconds.toFixed(1) + " s") +
        '</td><td class="num">' + (a === null ? dash : fixed(a, 1) + "%") +
        '</td><td class="num">' + (g === null ? dash : fixed(g, 1) + "%") + "</td></tr>";
    }).join("");
  };

  Dashboard.prototype.reviewForm = function (itemId, small) {
    if (!this.canWrite) return "";
    var url = this.root.dataset.reviewUrl.replace(/\/0\/review\/$/, "/" + itemId + "/review/");
    return '<form method="post" action="' + esc(url) + '"><input type="hidden" name="csrfmiddlewaretoken" value="' +
      esc(this.csrf) + '"><button class="btn btn-sm" type="submit" title="Open the item again: one more labeler reviews its label">' +
      (small ? "Review" : "Send back for review") + "</button></form>";
  };

  Dashboard.prototype.thumb = function (itemId, alt) {
    var url = this.root.dataset.imageUrl.replace(/\/0\/image\/$/, "/" + itemId + "/image/");
    return '<img class="lb-thumb" src="' + esc(url) + '" alt="' + esc(alt) + '" loading="lazy">';
  };

  Dashboard.prototype.disputed = function (s) {
    if (!this.changed("disputed", s.most_disputed)) return;
    var body = this.root.querySelector("[data-disputed]");
    var self = this;
    if (!s.most_disputed.length) {
      body.innerHTML = '<tr><td colspan="6" class="muted">No disagreement so far: the items whose labelers disagree most show here.</td></tr>';
      return;
    }
    body.innerHTML = s.most_disputed.map(function (d) {
      var item = d.has_image ? self.thumb(d.item_id, "row " + d.row)
        : '<span class="item-text" title="' + esc(d.text) + '">' + (d.text ? esc(d.text) : "—") + "</span>";
      return '<tr><td class="num muted">' + d.row + '</td><td class="item-cell">' + item +
        '</td><td><span class="label-tag" title="the consolidated label">' + esc(labelText(d.label)) + "</span></td><td>" +
        confidence(d.confidence) + '</td><td class="small muted">' + votes(d.answers) + "</td>" +
        (self.canWrite ? '<td class="right">' + self.reviewForm(d.item_id, false) + "</td>" : "") + "</tr>";
    }).join("");
  };

  Dashboard.prototype.rounds = function (s) {
    var body = this.root.querySelector("[data-auto-rounds]");
    if (!body || !s.auto_labeling.rounds.length || !this.changed("rounds", s.auto_labeling.rounds)) return;
    body.innerHTML = s.auto_labeling.rounds.map(function (r) {
      var when = r.at ? '<time title="' + esc(r.at) + '">' + esc(new Date(r.at).toLocaleString()) + "</time>" : "—";
      if (r.failed) {
        return "<tr><td>" + r.round + '</td><td colspan="5" class="small" style="color:var(--red-fg)">failed: ' +
          esc(r.failed) + ' — its items went to people</td><td class="nowrap muted">' + when + "</td></tr>";
      }
      var est = share(r.estimated_accuracy);
      return "<tr><td>" + r.round + '</td><td class="num">' + (r.trained_on === undefined ? "—" : num(r.trained_on)) +
        '</td><td class="num">' + (r.threshold === null || r.threshold === undefined ? '<span class="faint">none</span>' : r.threshold.toFixed(3)) +
        '</td><td class="num">' + (est === null ? '<span class="faint">—</span>' : est.toFixed(1) + "%") +
        '</td><td class="num">' + num(r.auto_labeled) + '</td><td class="num">' + num(r.sent_to_humans) +
        '</td><td class="nowrap muted">' + when + "</td></tr>";
    }).join("");
  };

  Dashboard.prototype.draw = function (s) {
    this.kpis(s);
    this.charts(s);
    this.leaderboard(s);
    this.disputed(s);
    this.rounds(s);
  };

  Dashboard.prototype.poll = function () {
    var self = this;
    var status = this.root.dataset.status;
    var live = this.root.querySelector("[data-live]");
    fetch(this.root.dataset.statsApi, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) return;
        if (live) { live.classList.add("is-live"); live.textContent = "live"; }
        if (s.status !== status) {
          // A new status changes the header, its actions and the output: load them.
          window.location.reload();
          return;
        }
        self.draw(s);
      })
      .catch(function () { if (live) { live.classList.remove("is-live"); live.textContent = "reconnecting…"; } })
      .then(function () {
        if (FINISHED.indexOf(status) < 0) setTimeout(function () { self.poll(); }, Number(self.root.dataset.pollMs) || 3000);
      });
  };

  // --- Items tab -------------------------------------------------------------------------
  function Items(dash) {
    this.dash = dash;
    this.root = dash.root.querySelector("[data-items]");
    this.state = "";
    this.order = "row";
    this.page = 1;
    this.loaded = false;
    var self = this;
    this.root.querySelectorAll("[data-state]").forEach(function (chip) {
      chip.addEventListener("click", function (ev) {
        ev.preventDefault();
        self.root.querySelectorAll("[data-state]").forEach(function (c) { c.classList.toggle("is-active", c === chip); });
        self.state = chip.dataset.state;
        self.page = 1;
        self.load();
      });
    });
    this.root.querySelector("[data-order]").addEventListener("change", function (ev) {
      self.order = ev.target.value;
      self.page = 1;
      self.load();
    });
    this.root.querySelector("[data-items-prev]").addEventListener("click", function () { self.page--; self.load(); });
    this.root.querySelector("[data-items-next]").addEventListener("click", function () { self.page++; self.load(); });
  }

  Items.prototype.load = function () {
    var self = this, dash = this.dash;
    var params = new URLSearchParams({ page: String(this.page), order: this.order });
    if (this.state) params.set("state", this.state);
    var body = this.root.querySelector("[data-items-rows]");
    var cols = dash.canWrite ? 8 : 7;
    fetch(dash.root.dataset.itemsApi + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
      .then(function (res) {
        if (!res.ok) {
          body.innerHTML = '<tr><td colspan="' + cols + '" class="muted">' + esc((res.data.error || {}).message || "The items could not be loaded.") + "</td></tr>";
          return;
        }
        var data = res.data;
        self.loaded = true;
        if (!data.results.length) {
          body.innerHTML = '<tr><td colspan="' + cols + '" class="muted">No item ' + (self.state ? "in this state" : "yet") + ".</td></tr>";
        } else {
          body.innerHTML = data.results.map(function (it) {
            var item = it.data && (it.data.image_url || it.data.frames)
              ? dash.thumb(it.item_id, "row " + it.row)
              : '<span class="item-text" title="' + esc(it.data && it.data.text) + '">' + esc(it.data && it.data.text) + "</span>";
            var flags = (it.gold ? ' <span class="tag" title="an item with a known answer">gold</span>' : "") +
              (it.is_validation ? ' <span class="tag" title="judges the auto-labeling model">validation</span>' : "");
            var state = { open: "in the queue", held: "waiting for the model", done: "labeled" }[it.state] || it.state;
            return '<tr><td class="num muted">' + it.row + '</td><td class="item-cell">' + item + flags + "</td><td class=\"nowrap\">" + esc(state) +
              "</td><td>" + (it.label === null || it.label === undefined ? '<span class="faint">—</span>' : '<span class="label-tag">' + esc(labelText(it.label)) + "</span>") +
              "</td><td>" + confidence(it.confidence) + "</td><td>" + (it.source ? '<span class="tag">' + esc(it.source) + "</span>" : '<span class="faint">—</span>') +
              '</td><td class="num" title="' + esc(votes(it.annotations.map(function (a) { return a.label; })).replace(/&[^;]+;/g, "")) + '">' + it.annotations.length + "</td>" +
              (dash.canWrite ? "<td class=\"right\">" + (it.state === "done" ? dash.reviewForm(it.item_id, true) : "") + "</td>" : "") + "</tr>";
          }).join("");
        }
        var size = 50, first = (self.page - 1) * size + 1;
        self.root.querySelector("[data-items-count]").textContent = data.count
          ? first + "–" + Math.min(data.count, first + data.results.length - 1) + " of " + num(data.count) : "0 items";
        self.root.querySelector("[data-items-page]").textContent = "Page " + self.page + " of " + Math.max(1, Math.ceil(data.count / size));
        self.root.querySelector("[data-items-prev]").disabled = !data.previous;
        self.root.querySelector("[data-items-next]").disabled = !data.next;
      })
      .catch(function () { body.innerHTML = '<tr><td colspan="' + cols + '" class="muted">The items could not be loaded.</td></tr>'; });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-labeling-dashboard]");
    if (!root) return;
    var dash = new Dashboard(root);
    var first = JSON.parse(document.getElementById("labeling-stats").textContent);
    // The server drew the lists already; remember them so the first poll redraws only changes.
    dash.last.leaderboard = JSON.stringify(first.leaderboard);
    dash.last.disputed = JSON.stringify(first.most_disputed);
    dash.last.rounds = JSON.stringify(first.auto_labeling.rounds);
    dash.charts(first);
    var items = new Items(dash);
    document.addEventListener("studio:shown", function (ev) {
      var panel = ev.target.dataset ? ev.target.dataset.panel : "";
      if (panel === "items" && !items.loaded) items.load();
      if (panel === "overview" && dash.pendingCharts) { delete dash.last.per_hour; delete dash.last.classes; dash.charts(dash.pendingCharts); dash.pendingCharts = null; }
    });
    if (!root.querySelector('[data-panel="items"]').hidden) items.load();
    // The first poll soon, to show the page is live; then every few seconds.
    if (FINISHED.indexOf(root.dataset.status) < 0) setTimeout(function () { dash.poll(); }, 1000);
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) { if (!window.confirm(form.dataset.confirm)) ev.preventDefault(); });
    });
  });
})();
