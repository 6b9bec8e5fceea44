/* The new-batch-transform form: a model and a dataset picked from the project's own, the
   input columns to keep beside the predictions, posted to the REST API; an error is shown
   beside the field the API names. "As a request" shows the same call as curl. */
(function () {
  "use strict";
  var F = window.SextantForms;

  var form = document.querySelector("[data-transform-form]");
  if (!form) return;
  var config = JSON.parse(document.getElementById("transform-config").textContent);
  var initial = config.initial || {};
  var packages = {};
  config.packages.forEach(function (p) { packages[p.id] = p; });
  var datasets = {};
  config.datasets.forEach(function (d) { datasets[d.id] = d; });

  function $(sel) { return form.querySelector(sel); }
  function option(value, text, selected) {
    var o = document.createElement("option");
    o.value = value; o.textContent = text; o.selected = !!selected;
    return o;
  }

  var packageSelect = $("#bt-package");
  var datasetSelect = $("#bt-dataset");
  if (!config.packages.length) packageSelect.appendChild(option("", "— no Completed model in this project —"));
  config.packages.forEach(function (p) {
    var words = p.problem_type.replace(/_/g, " ") + (p.approval === "Approved" ? ", approved" : "");
    packageSelect.appendChild(option(p.id, p.label + " (" + words + ")", p.id === initial.model_package));
  });
  if (!config.datasets.length) datasetSelect.appendChild(option("", "— no Ready dataset in this project —"));
  config.datasets.forEach(function (d) {
    datasetSelect.appendChild(option(d.id, d.label, d.id === initial.dataset));
  });

  var joinAll = $("[data-join-all]");
  var joinBox = $("[data-join-columns]");

  // The dataset's columns as chips to keep; a column the model reads is marked, and a
  // column the model does not find in the dataset is named before anything is sent.
  function fillColumns() {
    var kept = {};
    joinBox.querySelectorAll("[data-join]").forEach(function (c) { if (c.checked) kept[c.dataset.join] = true; });
    joinBox.innerHTML = "";
    var dataset = datasets[datasetSelect.value];
    var model = packages[packageSelect.value];
    var reads = {};
    (model ? model.columns : []).forEach(function (c) { reads[c] = true; });
    (dataset ? dataset.columns : []).forEach(function (name) {
      var chip = document.createElement("label");
      chip.className = "chip" + (kept[name] ? " is-active" : "");
      chip.title = reads[name] ? "The model reads this column" : "Not read by the model";
      var box = document.createElement("input");
      box.type = "checkbox"; box.dataset.join = name; box.checked = !!kept[name];
      box.style.marginRight = "4px";
      box.addEventListener("change", function () { chip.classList.toggle("is-active", box.checked); });
      var text = document.createElement("span");
      text.className = "mono";
      text.textContent = name;
      chip.append(box, text);
      joinBox.appendChild(chip);
    });
    joinBox.hidden = joinAll.checked;
    var help = $("[data-dataset-help]");
    var missing = model && dataset ? model.columns.filter(function (c) { return dataset.columns.indexOf(c) === -1; }) : [];
    help.textContent = missing.length
      ? "Missing " + missing.length + " column(s) the model reads: " + missing.slice(0, 5).join(", ") + (missing.length > 5 ? " …" : "")
      : (dataset ? dataset.columns.length + " columns" : "");
    $("[data-package-help]").textContent = model
      ? "Reads " + model.columns.length + " column(s): " + model.columns.slice(0, 6).join(", ") + (model.columns.length > 6 ? " …" : "")
      : "";
  }

  function number(input) {
    var value = input.value.trim();
    if (!value) return undefined;
    return /^\d+$/.test(value) ? parseInt(value, 10) : value;
  }

  function body() {
    var out = {
      project: config.project,
      name: $("#bt-name").value.trim(),
      model_package: packageSelect.value ? parseInt(packageSelect.value, 10) : null,
      dataset: datasetSelect.value ? parseInt(datasetSelect.value, 10) : null,
    };
    var join = joinAll.checked ? ["*"] : [];
    if (!joinAll.checked) {
      joinBox.querySelectorAll("[data-join]").forEach(function (c) { if (c.checked) join.push(c.dataset.join); });
    }
    if (join.length) out.join_input = join;
    var batch = number($("#bt-batch"));
    if (batch !== undefined) out.batch_rows = batch;
    var instances = number($("#bt-instances"));
    if (instances !== undefined) out.instance_count = instances;
    var output = $("#bt-output").value.trim();
    if (output) out.output_name = output;
    return out;
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    F.submitJSON(form, config.api, body(), config.detail, "The transform could not be started.");
  });

  form.querySelector("[data-show-request]").addEventListener("click", function () {
    var box = form.querySelector("[data-request]");
    box.querySelector("[data-request-text]").textContent = F.curl(config.api, body());
    box.hidden = !box.hidden;
  });

  joinAll.addEventListener("change", function () { joinBox.hidden = joinAll.checked; });
  packageSelect.addEventListener("change", fillColumns);
  datasetSelect.addEventListener("change", fillColumns);
  fillColumns();
})();
