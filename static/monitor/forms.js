/* The monitor's forms — new baseline, new monitoring schedule, new Clarify job: each builds
   the API request from its fields, shows it as curl, posts it and shows the API's errors
   beside their fields (studio/forms.js does the posting and the errors). */
(function () {
  "use strict";

  var F = window.SextantForms;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fill(select, items, selected, none) {
    select.innerHTML = "";
    if (none) select.appendChild(el("option", { value: "" }, none));
    items.forEach(function (item) {
      var o = el("option", { value: String(item.id !== undefined ? item.id : item.value) }, item.label);
      if (selected !== null && selected !== undefined && String(selected) === o.value) o.selected = true;
      select.appendChild(o);
    });
  }

  function isNumeric(dtype) { return /^(u?int|float|double|decimal|halffloat)/i.test(dtype || ""); }

  // "a, b, 3" → ["a", "b", 3] where the column holds numbers, else strings.
  function listOf(text, numeric) {
    return text.split(",").map(function (v) { return v.trim(); }).filter(Boolean).map(function (v) {
      return numeric && v !== "" && !isNaN(Number(v)) ? Number(v) : v;
    });
  }

  function columnsOf(config, datasetId) {
    var d = config.datasets.filter(function (x) { return String(x.id) === String(datasetId); })[0];
    return d ? d.columns : [];
  }

  function dtypeOf(columns, name) {
    var c = columns.filter(function (x) { return x.name === name; })[0];
    return c ? c.dtype : "";
  }

  function wireRequest(form, url, body) {
    form.querySelector("[data-show-request]").addEventListener("click", function () {
      var box = form.querySelector("[data-request]");
      form.querySelector("[data-request-text]").textContent = F.curl(url, body());
      box.hidden = !box.hidden;
    });
  }

  // Facet rows: a column, how its sensitive group is named (values, a threshold, or each
  // value in turn), and the values or the threshold.
  function facetRows(form, columns) {
    var holder = form.querySelector("[data-facets]");

    function options(select, chosen) {
      fill(select, columns().map(function (c) { return { value: c.name, label: c.name }; }), chosen, null);
    }

    function add() {
      var i = holder.children.length;
      var row = el("div", { class: "facet-row", "data-facet": String(i) });
      row.innerHTML =
        '<div class="field"><label>Column</label><select data-facet-name></select><ul class="errorlist" data-error-for="facets.' + i + '.name" hidden></ul></div>' +
        '<div class="field"><label>Group</label><select data-facet-mode><option value="values">these values</option><option value="threshold">above a number</option><option value="each">each value in turn</option></select></div>' +
        '<div class="field"><label data-facet-label>Values</label><input type="text" class="input" data-facet-values placeholder="e.g. Female"><ul class="errorlist" data-error-for="facets.' + i + '.values_or_threshold" hidden></ul></div>' +
        '<button class="btn btn-ghost btn-sm" type="button" data-remove-facet title="Remove this facet">Remove</button>';
      holder.appendChild(row);
      options(row.querySelector("[data-facet-name]"), null);
      var mode = row.querySelector("[data-facet-mode]");
      var input = row.querySelector("[data-facet-values]");
      mode.addEventListener("change", function () {
        input.disabled = mode.value === "each";
        row.querySelector("[data-facet-label]").textContent = mode.value === "threshold" ? "Threshold" : "Values";
        input.placeholder = mode.value === "threshold" ? "e.g. 40 (the group is above it)" : mode.value === "each" ? "every value of the column" : "e.g. Female";
        input.type = mode.value === "threshold" ? "number" : "text";
      });
      row.querySelector("[data-remove-facet]").addEventListener("click", function () {
        row.remove();
        renumber();
        form.dispatchEvent(new Event("facets:changed"));
      });
      form.dispatchEvent(new Event("facets:changed"));
    }

    function renumber() {
      Array.prototype.forEach.call(holder.children, function (row, i) {
        row.dataset.facet = String(i);
        row.querySelectorAll("[data-error-for]").forEach(function (ul) {
          ul.dataset.errorFor = ul.dataset.errorFor.replace(/^facets\.\d+\./, "facets." + i + ".");
        });
      });
    }

    function refresh() {
      holder.querySelectorAll("[data-facet-name]").forEach(function (s) { options(s, s.value); });
    }

    function value() {
      var out = [];
      holder.querySelectorAll("[data-facet]").forEach(function (row) {
        var name = row.querySelector("[data-facet-name]").value;
        var mode = row.querySelector("[data-facet-mode]").value;
        var text = row.querySelector("[data-facet-values]").value.trim();
        var v = null;
        if (mode === "threshold") v = text === "" ? null : Number(text);
        else if (mode === "values") v = listOf(text, isNumeric(dtypeOf(columns(), name)));
        out.push({ name: name, values_or_threshold: v });
      });
      return out;
    }

    form.querySelector("[data-add-facet]").addEventListener("click", add);
    return { value: value, refresh: refresh, count: function () { return holder.children.length; } };
  }

  // ------------------------------------------------------------------ baseline
  function baselineForm(form) {
    var config = JSON.parse(document.getElementById("baseline-config").textContent);
    var dataset = form.querySelector("[data-dataset]");
    var pkg = form.querySelector("[data-package]");
    var label = form.querySelector("[data-label]");
    var positive = form.querySelector("[data-positive]");
    fill(dataset, config.datasets, null, null);
    fill(pkg, config.packages, null, "none");
    var cols = function () { return columnsOf(config, dataset.value); };
    var facets = facetRows(form, cols);

    function refreshColumns() {
      var chosen = label.value;
      fill(label, cols().map(function (c) { return { value: c.name, label: c.name }; }), chosen, "none");
      facets.refresh();
    }
    function refreshBias() {
      form.querySelector("[data-positive-field]").hidden = facets.count() === 0;
    }
    dataset.addEventListener("change", refreshColumns);
    form.addEventListener("facets:changed", refreshBias);
    refreshColumns();
    refreshBias();

    function body() {
      var out = { project: config.project, dataset: Number(dataset.value) || null };
      var name = form.querySelector("#bl-name").value.trim();
      if (name) out.name = name;
      if (pkg.value) out.model_package = Number(pkg.value);
      if (label.value) out.label = label.value;
      if (facets.count()) {
        out.facets = facets.value();
        out.positive_label_values = listOf(positive.value, isNumeric(dtypeOf(cols(), label.value)));
      }
      return out;
    }
    wireRequest(form, config.api, body);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      F.submitJSON(form, config.api, body(), config.detail, "The baseline could not be created.");
    });
  }

  // ------------------------------------------------------------------ schedule
  var THRESHOLDS = {
    model_quality: { key: "tolerance", label: "Tolerance", value: 0.05,
                     help: "A metric worse than the baseline's by more than this is a violation." },
    bias_drift: { key: "threshold", label: "Threshold", value: 0.1,
                  help: "A bias metric that moves by more than this from the baseline's is a violation." },
    feature_attribution_drift: { key: "threshold", label: "NDCG threshold", value: 0.9,
                                 help: "The ranking of features drifts when its NDCG against the baseline falls below this." },
  };

  function scheduleForm(form) {
    var config = JSON.parse(document.getElementById("schedule-config").textContent);
    var endpoint = form.querySelector("[data-endpoint]");
    var baseline = form.querySelector("[data-baseline]");
    var types = form.querySelector("[data-types]");
    var cron = form.querySelector("[data-cron]");
    var threshold = form.querySelector("[data-threshold]");
    fill(endpoint, config.endpoints, config.selected.endpoint, null);
    fill(baseline, config.baselines, config.selected.baseline, null);

    config.types.forEach(function (t, i) {
      var label = el("label", { class: "type-choice", "data-type": t.value });
      label.innerHTML = '<input type="radio" name="monitor-type" value="' + t.value + '"' + (i === 0 ? " checked" : "") +
        '><span><span class="t"></span><span class="h" style="display:block"></span></span>';
      label.querySelector(".t").textContent = t.label;
      label.querySelector(".h").textContent = t.help;
      types.appendChild(label);
    });

    function chosenType() {
      var r = types.querySelector("input:checked");
      return r ? r.value : "";
    }

    // A baseline without a model's quality, bias or importance cannot serve those monitors.
    function refreshTypes() {
      var b = config.baselines.filter(function (x) { return String(x.id) === baseline.value; })[0];
      var serves = b ? b.serves : {};
      var blocked = [];
      types.querySelectorAll("[data-type]").forEach(function (label) {
        var input = label.querySelector("input");
        var ok = !!serves[label.dataset.type];
        input.disabled = !ok;
        label.classList.toggle("is-disabled", !ok);
        label.title = ok ? "" : "This baseline was made without what this monitor compares with.";
        if (!ok) blocked.push(label.querySelector(".t").textContent.toLowerCase());
        if (!ok && input.checked) input.checked = false;
      });
      if (!types.querySelector("input:checked")) {
        var first = types.querySelector("input:not(:disabled)");
        if (first) first.checked = true;
      }
      form.querySelector("[data-type-note]").textContent = blocked.length
        ? "This baseline has no model view for " + blocked.join(", ") + ": make a baseline with a model package and a label" +
          (blocked.indexOf("bias drift") >= 0 ? " (and facets, for bias drift)." : ".")
        : "";
      refreshThreshold();
    }

    function refreshThreshold() {
      var spec = THRESHOLDS[chosenType()];
      var field = form.querySelector("[data-threshold-field]");
      field.hidden = !spec;
      if (spec) {
        form.querySelector("[data-threshold-label]").textContent = spec.label + " (optional)";
        form.querySelector("[data-threshold-help]").textContent = spec.help;
        threshold.placeholder = String(spec.value);
      }
    }

    function scheduleKind() { return form.querySelector("[name=schedule-kind]:checked").value; }
    function refreshKind() {
      var isCron = scheduleKind() === "cron";
      cron.hidden = !isCron;
      form.querySelector("[data-cron-help]").hidden = !isCron;
      var hours = config.windows[scheduleKind()];
      form.querySelector("[data-window]").placeholder = hours ? String(hours) : "between two runs";
      if (isCron) cron.focus();
    }

    baseline.addEventListener("change", refreshTypes);
    types.addEventListener("change", refreshThreshold);
    form.querySelector("[data-schedule-kind]").addEventListener("change", refreshKind);
    refreshTypes();
    refreshKind();

    function body() {
      var kind = scheduleKind();
      var out = {
        project: config.project,
        endpoint: Number(endpoint.value) || null,
        baseline: Number(baseline.value) || null,
        monitor_type: chosenType(),
        schedule: kind === "cron" ? cron.value.trim() : kind,
      };
      var name = form.querySelector("#sc-name").value.trim();
      if (name) out.name = name;
      var hours = form.querySelector("[data-window]").value;
      if (hours !== "") out.window_hours = Number(hours);
      var spec = THRESHOLDS[out.monitor_type];
      if (spec && threshold.value !== "") {
        out.config = {};
        out.config[spec.key] = Number(threshold.value);
      }
      var emails = form.querySelector("[data-emails]").value;
      if (emails.trim()) out.alert_emails = listOf(emails, false);
      var hook = form.querySelector("[data-webhook]").value.trim();
      if (hook) out.webhook_url = hook;
      return out;
    }
    wireRequest(form, config.api, body);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      F.submitJSON(form, config.api, body(), config.detail, "The schedule could not be created.");
    });
  }

  // ------------------------------------------------------------------ clarify
  function clarifyForm(form) {
    var config = JSON.parse(document.getElementById("clarify-config").textContent);
    var dataset = form.querySelector("[data-dataset]");
    var label = form.querySelector("[data-label]");
    var group = form.querySelector("[data-group]");
    var pkg = form.querySelector("[data-package]");
    var positive = form.querySelector("[data-positive]");
    var methods = form.querySelector("[data-methods]");
    fill(dataset, config.datasets, config.selected.dataset, null);
    fill(pkg, config.packages, config.selected.model_package, "none");
    var cols = function () { return columnsOf(config, dataset.value); };
    var facets = facetRows(form, cols);

    config.methods.forEach(function (m) {
      var l = el("label", {});
      l.innerHTML = '<input type="checkbox" value="' + m.value + '"' + (m.value === "pre_training_bias" ? " checked" : "") + "> ";
      l.appendChild(document.createTextNode(m.label));
      methods.appendChild(l);
    });

    function refreshColumns() {
      var items = cols().map(function (c) { return { value: c.name, label: c.name }; });
      var chosen = label.value;
      fill(label, items, chosen || (items.length ? items[items.length - 1].value : null), null);
      fill(group, items, group.value, "none");
      facets.refresh();
    }
    // Post-training bias and SHAP measure a model: without one they cannot be chosen.
    function refreshMethods() {
      methods.querySelectorAll("input").forEach(function (box) {
        var needsModel = box.value !== "pre_training_bias";
        box.disabled = needsModel && !pkg.value;
        if (box.disabled) box.checked = false;
        box.parentElement.title = box.disabled ? "Choose a model package first." : "";
      });
      var shap = methods.querySelector("input[value=shap]");
      form.querySelector("[data-shap-fields]").hidden = !(shap && shap.checked);
    }
    function positiveKind() { return form.querySelector("[name=positive-kind]:checked").value; }
    form.querySelector("[data-positive-kind]").addEventListener("change", function () {
      var number = positiveKind() === "threshold";
      positive.type = number ? "number" : "text";
      positive.placeholder = number ? "e.g. 50000" : "e.g. yes, approved";
      form.querySelector("[data-positive-help]").textContent = number
        ? "A regression label: the outcome is favourable above this number."
        : "Comma-separated label values that count as the good outcome.";
    });
    dataset.addEventListener("change", refreshColumns);
    pkg.addEventListener("change", refreshMethods);
    methods.addEventListener("change", refreshMethods);
    refreshColumns();
    refreshMethods();
    if (!facets.count()) form.querySelector("[data-add-facet]").click();

    function body() {
      var out = { project: config.project, dataset: Number(dataset.value) || null, label: label.value };
      var text = positive.value.trim();
      out.positive_label_values = positiveKind() === "threshold"
        ? (text === "" ? null : Number(text))
        : listOf(text, isNumeric(dtypeOf(cols(), label.value)));
      if (facets.count()) out.facets = facets.value();
      var name = form.querySelector("#cl-name").value.trim();
      if (name) out.name = name;
      if (group.value) out.group_variable = group.value;
      if (pkg.value) out.model_package = Number(pkg.value);
      out.methods = Array.prototype.map.call(methods.querySelectorAll("input:checked"), function (b) { return b.value; });
      if (out.methods.indexOf("shap") >= 0) {
        out.shap = {
          rows: Number(form.querySelector("[data-shap-rows]").value),
          background_k: Number(form.querySelector("[data-shap-k]").value),
        };
      }
      return out;
    }
    wireRequest(form, config.api, body);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      F.submitJSON(form, config.api, body(), config.detail, "The Clarify job could not be started.");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var b = document.querySelector("[data-baseline-form]");
    if (b) baselineForm(b);
    var s = document.querySelector("[data-schedule-form]");
    if (s) scheduleForm(s);
    var c = document.querySelector("[data-clarify-form]");
    if (c) clarifyForm(c);
  });
})();
