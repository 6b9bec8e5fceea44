/* An experiment's run table: sort by any column, filter, choose the parameter and metric
   columns, select runs to compare. All on the page's data; nothing reloads. */
(function () {
  "use strict";

  var box = document.querySelector("[data-run-table]");
  if (!box) return;
  var runs = JSON.parse(document.getElementById("runs-data").textContent);
  var table = box.querySelector("[data-table]");
  var selected = {};
  var sort = { key: "start", desc: true };
  var filter = "";

  function keysOf(field) {
    var seen = {};
    runs.forEach(function (r) { Object.keys(r[field]).forEach(function (k) { seen[k] = true; }); });
    return Object.keys(seen).sort();
  }
  var params = keysOf("params");
  var metrics = keysOf("metrics");
  // Shown at first: up to 4 metrics (validation ones first) and the 3 parameters that
  // differ between runs; the Columns menu shows the others.
  var shown = {};
  metrics.slice().sort(function (a, b) {
    return (b.indexOf("validation:") === 0) - (a.indexOf("validation:") === 0);
  }).slice(0, 4).forEach(function (k) { shown["m:" + k] = true; });
  params.filter(function (k) {
    var values = {};
    runs.forEach(function (r) { values[String(r.params[k])] = true; });
    return Object.keys(values).length > 1;
  }).slice(0, 3).forEach(function (k) { shown["p:" + k] = true; });

  function columns() {
    var out = [
      { id: "name", label: "Run", get: function (r) { return r.name; } },
      { id: "status", label: "Status", get: function (r) { return r.status; } },
      { id: "start", label: "Started", get: function (r) { return r.start; } },
      { id: "seconds", label: "Duration", num: true, get: function (r) { return r.seconds; } },
    ];
    params.forEach(function (k) {
      if (shown["p:" + k]) out.push({ id: "p:" + k, label: k, kind: "param", get: function (r) { return r.params[k]; } });
    });
    metrics.forEach(function (k) {
      if (shown["m:" + k]) out.push({ id: "m:" + k, label: k, kind: "metric", num: true, get: function (r) { return r.metrics[k]; } });
    });
    return out;
  }

  function fmt(col, v) {
    if (v === undefined || v === null) return "—";
    if (col.id === "start") return new Date(v).toISOString().slice(5, 16).replace("T", " ");
    if (col.id === "seconds") return v.toFixed(1) + " s";
    if (typeof v === "number") return Number(v.toPrecision(5)).toString();
    return String(v);
  }

  function compare(a, b) {
    if (a === b) return 0;
    if (a === undefined || a === null) return 1;
    if (b === undefined || b === null) return -1;
    var x = Number(a), y = Number(b);
    if (!isNaN(x) && !isNaN(y)) return x - y;
    return String(a).localeCompare(String(b));
  }

  function render() {
    var cols = columns();
    var head = document.createElement("tr");
    var th0 = document.createElement("th");
    th0.innerHTML = '<input type="checkbox" aria-label="Select all shown" data-all>';
    head.appendChild(th0);
    cols.forEach(function (c) {
      var th = document.createElement("th");
      th.textContent = c.label + (sort.key === c.id ? (sort.desc ? " ▾" : " ▴") : "");
      th.className = (c.num ? "num " : "") + (c.kind ? "mono " : "") + "sortable";
      th.dataset.sort = c.id;
      th.title = c.kind ? c.kind + " " + c.label : c.label;
      head.appendChild(th);
    });
    table.tHead.innerHTML = "";
    table.tHead.appendChild(head);
    var col = cols.find(function (c) { return c.id === sort.key; }) || cols[2];
    var rows = runs.filter(function (r) {
      if (!filter) return true;
      var text = (r.name + " " + r.status + " " + JSON.stringify(r.params)).toLowerCase();
      return text.indexOf(filter) !== -1;
    }).sort(function (a, b) {
      var d = compare(col.get(a), col.get(b));
      return sort.desc ? -d : d;
    });
    var body = table.tBodies[0];
    body.innerHTML = "";
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      var td0 = document.createElement("td");
      var box_ = document.createElement("input");
      box_.type = "checkbox"; box_.checked = !!selected[r.id]; box_.dataset.run = r.id;
      box_.setAttribute("aria-label", "Select " + r.name);
      td0.appendChild(box_);
      tr.appendChild(td0);
      cols.forEach(function (c) {
        var td = document.createElement("td");
        td.className = (c.num ? "num " : "") + (c.id === "name" || c.id === "start" ? "nowrap" : "");
        if (c.id === "name") {
          var a = document.createElement("a");
          a.href = box.dataset.runUrl.replace("{id}", r.id);
          a.textContent = r.name;
          a.className = "row-title";
          td.appendChild(a);
        } else if (c.id === "status") {
          var badge = document.createElement("span");
          badge.className = "badge badge-" + ({ FINISHED: "completed", FAILED: "failed", KILLED: "stopped", RUNNING: "running" }[r.status] || "pending");
          badge.textContent = r.status.charAt(0) + r.status.slice(1).toLowerCase();
          td.appendChild(badge);
        } else {
          td.textContent = fmt(c, c.get(r));
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    box.querySelector("[data-empty]").hidden = rows.length > 0;
    var count = Object.keys(selected).length;
    document.querySelector("[data-selected]").textContent = count;
    document.querySelector("[data-compare]").disabled = count < 2 || count > 50;
  }

  function renderPicker() {
    var menu = box.querySelector("[data-columns]");
    menu.innerHTML = "";
    [["Parameters", params, "p:"], ["Metrics", metrics, "m:"]].forEach(function (group) {
      if (!group[1].length) return;
      var label = document.createElement("div");
      label.className = "menu-label";
      label.textContent = group[0];
      menu.appendChild(label);
      group[1].forEach(function (k) {
        var row = document.createElement("label");
        row.className = "menu-item";
        var input = document.createElement("input");
        input.type = "checkbox"; input.checked = !!shown[group[2] + k]; input.dataset.column = group[2] + k;
        row.append(input, document.createTextNode(" " + k));
        menu.appendChild(row);
      });
    });
  }

  table.addEventListener("click", function (ev) {
    var th = ev.target.closest("[data-sort]");
    if (th) {
      sort = { key: th.dataset.sort, desc: sort.key === th.dataset.sort ? !sort.desc : true };
      render();
    }
  });
  table.addEventListener("change", function (ev) {
    if (ev.target.dataset.all !== undefined) {
      table.querySelectorAll("[data-run]").forEach(function (b) {
        if (ev.target.checked) selected[b.dataset.run] = true; else delete selected[b.dataset.run];
      });
      render();
    } else if (ev.target.dataset.run) {
      if (ev.target.checked) selected[ev.target.dataset.run] = true; else delete selected[ev.target.dataset.run];
      render();
    }
  });
  box.querySelector("[data-columns]").addEventListener("change", function (ev) {
    var id = ev.target.dataset.column;
    if (ev.target.checked) shown[id] = true; else delete shown[id];
    render();
  });
  box.querySelector("[data-filter]").addEventListener("input", function (ev) {
    filter = ev.target.value.trim().toLowerCase();
    render();
  });
  document.querySelector("[data-compare]").addEventListener("click", function () {
    location.href = box.dataset.compareUrl + "?runs=" + Object.keys(selected).join(",");
  });
  renderPicker();
  render();
})();
