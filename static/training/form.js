/* The new-training-job form: fields built from the algorithms' declared hyperparameters,
   the target picked from the train dataset's columns, posted to the REST API; an error is
   shown beside the field the API names. "As a request" shows the same call as curl. */
(function () {
  "use strict";

  var form = document.querySelector("[data-training-form]");
  if (!form) return;
  var config = JSON.parse(document.getElementById("training-config").textContent);
  var initial = config.initial || {};
  var byName = {};
  config.algorithms.forEach(function (a) { byName[a.name] = a; });
  var datasets = {};
  config.datasets.forEach(function (d) { datasets[d.id] = d; });

  function $(sel) { return form.querySelector(sel); }
  function option(value, text, selected) {
    var o = document.createElement("option");
    o.value = value; o.textContent = text; o.selected = !!selected;
    return o;
  }

  var algorithm = $("#tj-algorithm");
  [["Supervised", true], ["Unsupervised", false]].forEach(function (group) {
    var og = document.createElement("optgroup");
    og.label = group[0];
    config.algorithms.filter(function (a) { return a.supervised === group[1]; }).forEach(function (a) {
      og.appendChild(option(a.name, a.title + " (" + a.name + ")", a.name === initial.algorithm));
    });
    algorithm.appendChild(og);
  });
  var own = document.createElement("optgroup");
  own.label = "Your code";
  own.appendChild(option("script", "Your script (script)", initial.algorithm === "script"));
  algorithm.appendChild(own);
  var SCRIPT = { name: "script", supervised: false, problem_types: [], hyperparameters: [],
                 description: "Your .py file or zipped project, run with SageMaker's contract." };
  byName.script = SCRIPT;

  form.querySelectorAll("[data-channel]").forEach(function (select) {
    var channel = select.dataset.channel;
    if (channel !== "train") select.appendChild(option("", "— none —"));
    config.datasets.forEach(function (d) {
      select.appendChild(option(d.id, d.label, (initial.channels || {})[channel] === d.id));
    });
  });

  var instance = $("#tj-instance");
  config.instanceTypes.forEach(function (t) {
    var words = t.cpus + " CPUs, " + t.memory_gb + " GiB" + (t.gpus ? ", " + t.gpus + " GPU" : "");
    instance.appendChild(option(t.name, t.name + " — " + words, t.name === (initial.instance_type || "cpu.small")));
  });
  if (initial.max_runtime_seconds) $("#tj-runtime").value = initial.max_runtime_seconds;
  if (initial.name) $("#tj-name").value = initial.name;

  function current() { return byName[algorithm.value]; }

  function fillTargets() {
    var select = $("#tj-target");
    var keep = select.value || initial.target || "";
    select.innerHTML = "";
    var train = datasets[$("#tj-train").value];
    var algo = current();
    if (!algo.supervised) select.appendChild(option("", "— none (optional: measure against it) —"));
    (train ? train.columns : []).forEach(function (c) { select.appendChild(option(c, c, c === keep)); });
  }

  function fillProblems() {
    var select = $("#tj-problem");
    var keep = select.value || initial.problem_type || "auto";
    select.innerHTML = "";
    select.appendChild(option("auto", "Infer from the target", keep === "auto"));
    current().problem_types.forEach(function (p) {
      select.appendChild(option(p, p.replace(/_/g, " "), p === keep));
    });
  }

  function fillHyperparameters() {
    var box = form.querySelector("[data-hyperparameters]");
    box.innerHTML = "";
    var given = current().name === initial.algorithm ? (initial.hyperparameters || {}) : {};
    current().hyperparameters.forEach(function (hp) {
      var field = document.createElement("div");
      field.className = "field";
      var label = document.createElement("label");
      label.htmlFor = "hp-" + hp.name;
      label.className = "mono";
      label.textContent = hp.name;
      var input;
      if (hp.type === "choice" || hp.type === "bool") {
        input = document.createElement("select");
        input.appendChild(option("", "default (" + (hp.default === null ? "auto" : hp.default) + ")"));
        (hp.type === "bool" ? ["true", "false"] : hp.choices).forEach(function (c) {
          input.appendChild(option(c, c, String(given[hp.name]) === c));
        });
      } else {
        input = document.createElement("input");
        input.type = "text";
        input.placeholder = hp.default === null ? "unset" : String(hp.default);
        if (given[hp.name] !== undefined) input.value = Array.isArray(given[hp.name]) ? given[hp.name].join(",") : given[hp.name];
      }
      input.className = "input";
      input.id = "hp-" + hp.name;
      input.dataset.hp = hp.name;
      var help = document.createElement("div");
      help.className = "help";
      var range = [];
      if (hp.minimum !== undefined) range.push("≥ " + hp.minimum);
      if (hp.above !== undefined) range.push("> " + hp.above);
      if (hp.maximum !== undefined) range.push("≤ " + hp.maximum);
      help.textContent = hp.help + (range.length ? " (" + range.join(", ") + ")" : "");
      var errors = document.createElement("ul");
      errors.className = "errorlist";
      errors.hidden = true;
      errors.dataset.errorFor = "hyperparameters." + hp.name;
      field.append(label, input, help, errors);
      box.appendChild(field);
    });
  }

  // One row per rule: watch it, and whether it stops the job; the defaults (or the
  // cloned job's rules) ticked.
  (function rules() {
    var box = form.querySelector("[data-rules]");
    var given = {};
    (initial.debugger_rules || config.defaultRules.map(function (n) { return { name: n, action: "" }; }))
      .forEach(function (r) { given[r.name] = r; });
    config.rules.forEach(function (rule) {
      var row = document.createElement("label");
      row.className = "rule-pick";
      row.title = rule.description;
      var on = document.createElement("input");
      on.type = "checkbox"; on.dataset.rule = rule.name; on.checked = !!given[rule.name];
      var name = document.createElement("span");
      name.className = "mono";
      name.textContent = rule.name;
      var stop = document.createElement("input");
      stop.type = "checkbox"; stop.dataset.stop = rule.name;
      stop.checked = !!(given[rule.name] && given[rule.name].action === "stop");
      var stopLabel = document.createElement("span");
      stopLabel.className = "muted small";
      stopLabel.textContent = "stop";
      row.append(on, name, stop, stopLabel);
      box.appendChild(row);
    });
  })();

  function chosenRules() {
    var out = [];
    form.querySelectorAll("[data-rule]").forEach(function (box) {
      if (!box.checked) return;
      var stop = form.querySelector('[data-stop="' + CSS.escape(box.dataset.rule) + '"]');
      out.push({ name: box.dataset.rule, action: stop.checked ? "stop" : "" });
    });
    return out;
  }

  function onAlgorithm() {
    var algo = current();
    var script = algo.name === "script";
    form.querySelector("[data-script-only]").hidden = !script;
    form.querySelector("[data-builtin-only]").hidden = script;
    form.querySelectorAll("[data-supervised-only]").forEach(function (el) { el.hidden = script; });
    form.querySelector("[data-algorithm-help]").textContent = algo.description;
    form.querySelectorAll("[data-supervised-only]").forEach(function (el) {
      el.querySelector("label").textContent = el.querySelector("select").id === "tj-target"
        ? (algo.supervised ? "Target column" : "Label column (optional)") : "Problem type";
    });
    $("#tj-problem").closest(".field").hidden = !algo.supervised || script;
    fillTargets();
    fillProblems();
    fillHyperparameters();
  }

  function lines(text) {
    return text.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
  }

  function scriptFields() {
    var hps = {};
    lines($("#tj-hps").value).forEach(function (l) {
      var cut = l.indexOf("=");
      if (cut > 0) {
        var value = l.slice(cut + 1).trim();
        hps[l.slice(0, cut).trim()] = /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(value) ? Number(value) : value;
      }
    });
    var definitions = lines($("#tj-metrics").value).map(function (l) {
      var cut = l.search(/\s/);
      return cut > 0 ? { name: l.slice(0, cut), regex: l.slice(cut).trim() } : { name: l, regex: "" };
    });
    return { hyperparameters: hps, metric_definitions: definitions,
             entry_point: $("#tj-entry").value.trim() };
  }

  function body() {
    var channels = {};
    form.querySelectorAll("[data-channel]").forEach(function (s) {
      if (s.value) channels[s.dataset.channel] = parseInt(s.value, 10);
    });
    var hps = {};
    form.querySelectorAll("[data-hp]").forEach(function (i) {
      if (i.value.trim() !== "") hps[i.dataset.hp] = i.value.trim();
    });
    var out = {
      project: config.project,
      name: $("#tj-name").value.trim(),
      algorithm: algorithm.value,
      channels: channels,
      hyperparameters: hps,
      instance_type: instance.value,
      debugger_rules: chosenRules(),
    };
    if ($("#tj-target").value) out.target = $("#tj-target").value;
    if (current().supervised && $("#tj-problem").value !== "auto") out.problem_type = $("#tj-problem").value;
    var runtime = $("#tj-runtime").value.trim();
    if (runtime) out.max_runtime_seconds = /^\d+$/.test(runtime) ? parseInt(runtime, 10) : runtime;
    if (algorithm.value === "script") {
      var extra = scriptFields();
      out.hyperparameters = extra.hyperparameters;
      out.metric_definitions = extra.metric_definitions;
      if (extra.entry_point) out.entry_point = extra.entry_point;
      delete out.target;
    }
    return out;
  }

  // A script goes as multipart: its file, and the structured fields as JSON strings.
  function multipart(data) {
    var fd = new FormData();
    Object.keys(data).forEach(function (k) {
      var v = data[k];
      fd.append(k, typeof v === "object" ? JSON.stringify(v) : String(v));
    });
    var file = $("#tj-source").files[0];
    if (file) fd.append("source", file);
    return fd;
  }

  var F = window.SextantForms;

  function clearErrors() { F.clearErrors(form); }

  function showError(error) {
    // A channel the form has no list for ("channels.x") shows under the train channel.
    F.showError(form, error, "The job could not be created.", function (field) {
      return field.indexOf("channels") === 0 ? form.querySelector('[data-error-for="channels.train"]') : null;
    });
  }

  var csrf = F.csrf;

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearErrors();
    var button = form.querySelector("[data-submit]");
    button.disabled = true;
    var script = algorithm.value === "script";
    var headers = { "X-CSRFToken": csrf(), Accept: "application/json" };
    if (!script) headers["Content-Type"] = "application/json";
    fetch(config.api, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: script ? multipart(body()) : JSON.stringify(body()),
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      if (res.ok) {
        location.href = config.detail.replace("{id}", res.data.id);
        return;
      }
      button.disabled = false;
      showError(res.data.error || { message: JSON.stringify(res.data) });
    }).catch(function () {
      button.disabled = false;
      showError({ message: "The studio could not be reached; try again." });
    });
  });

  form.querySelector("[data-show-request]").addEventListener("click", function () {
    var box = form.querySelector("[data-request]");
    var data = body();
    var text;
    if (algorithm.value === "script") {
      var file = $("#tj-source").files[0];
      text = "curl -X POST " + location.origin + config.api + " \\\n  -H 'Authorization: Token $TOKEN'";
      Object.keys(data).forEach(function (k) {
        var v = typeof data[k] === "object" ? JSON.stringify(data[k]) : String(data[k]);
        text += " \\\n  -F '" + k + "=" + v.replace(/'/g, "'\\''") + "'";
      });
      text += " \\\n  -F 'source=@" + (file ? file.name : "train.py") + "'";
    } else {
      var json = JSON.stringify(data, null, 2);
      text = "curl -X POST " + location.origin + config.api + " \\\n" +
        "  -H 'Authorization: Token $TOKEN' -H 'Content-Type: application/json' \\\n" +
        "  -d '" + json.replace(/'/g, "'\\''") + "'";
    }
    box.querySelector("[data-request-text]").textContent = text;
    box.hidden = !box.hidden;
  });

  algorithm.addEventListener("change", onAlgorithm);
  $("#tj-train").addEventListener("change", fillTargets);
  onAlgorithm();
})();
