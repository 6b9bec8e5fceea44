/* The new-labeling-job form: the dataset's columns, fields that depend on the task type,
   the request it makes (posted to the API, or shown as curl), the API's errors beside
   their fields. */
(function () {
  "use strict";

  var F = window.SextantForms;

  function option(select, value, text, selected) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    if (selected) o.selected = true;
    select.appendChild(o);
    return o;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-labeling-form]");
    if (!form) return;
    var config = JSON.parse(document.getElementById("labeling-config").textContent);
    var $ = function (sel) { return form.querySelector(sel); };
    var datasetSel = $("[data-dataset]"), taskSel = $("[data-task]"), columnSel = $("[data-column]");
    var verifiesSel = $("[data-verifies]"), preSel = $("[data-pre-column]"), seqSel = $("[data-seq-column]");
    var workers = $("[data-workers]");
    var workersTouched = false;
    var byId = {}, byTask = {};
    config.datasets.forEach(function (d) { byId[d.id] = d; });
    config.taskTypes.forEach(function (t) { byTask[t.value] = t; });

    // Datasets; the preselected one (the dataset page's Label action) or the first.
    if (!config.datasets.length) option(datasetSel, "", "No Ready dataset", true);
    config.datasets.forEach(function (d) { option(datasetSel, d.id, d.label, d.id === config.selected); });
    config.taskTypes.forEach(function (t) { option(taskSel, t.value, t.label, false); });
    config.taskTypes.forEach(function (t) {
      if (t.value !== "verification") option(verifiesSel, t.value, t.label, false);
    });
    config.consolidations.forEach(function (c) { option($("[data-consolidation]"), c.value, c.label, false); });

    function dataset() { return byId[Number(datasetSel.value)] || null; }
    // The kind of data a task labels: a verification job labels what it verifies.
    function needsImages() {
      var t = taskSel.value === "verification" ? verifiesSel.value : taskSel.value;
      return byTask[t] ? byTask[t].images : false;
    }

    // A dataset of images suggests image classification; a table, text classification.
    var start = dataset();
    taskSel.value = start && start.images ? "image_classification" : "text_classification";

    function fillColumns(select, columns, preferred, allowNone) {
      var before = select.value;
      select.innerHTML = "";
      if (allowNone) option(select, "", "—", false);
      columns.forEach(function (c) { option(select, c.name, c.name + (c.dtype ? "  ·  " + c.dtype : ""), false); });
      var names = columns.map(function (c) { return c.name; });
      if (names.indexOf(before) >= 0) select.value = before;
      else if (preferred && names.indexOf(preferred) >= 0) select.value = preferred;
    }

    function guessTextColumn(columns) {
      // The first string column whose name says text, else the first string column.
      var strings = columns.filter(function (c) { return /string|utf8|large_string/.test(c.dtype || ""); });
      var named = strings.filter(function (c) { return /text|body|comment|review|message|sentence|title/i.test(c.name); });
      return (named[0] || strings[0] || columns[0] || {}).name;
    }

    function refresh() {
      var d = dataset(), t = byTask[taskSel.value];
      var columns = d ? d.columns : [];
      var images = needsImages();
      fillColumns(columnSel, columns, images ? "image" : guessTextColumn(columns), false);
      fillColumns(preSel, columns, "label", true);
      fillColumns(seqSel, columns, "label", false);
      $("[data-task-help]").textContent = t ? t.help : "";
      $("[data-column-help]").textContent = images
        ? "The column with the image (\"image\" for a dataset of images)."
        : "The column with the text labelers read.";
      var hint = $("[data-data-hint]");
      if (d && images !== d.images) {
        hint.innerHTML = "";
        var warn = document.createElement("span");
        warn.className = "error";
        warn.style.color = "var(--red-fg)";
        warn.textContent = images ? "This task labels images: choose a dataset of images."
                                  : "This task labels text: choose a tabular dataset.";
        hint.appendChild(warn);
      } else {
        hint.textContent = d ? (d.images ? "a dataset of images" : "a table of " + columns.length + " columns") : "";
      }
      form.querySelectorAll("[data-only]").forEach(function (el) {
        el.hidden = el.dataset.only !== taskSel.value;
      });
      $("[data-auto-section]").hidden = !(t && t.auto);
      if (!workersTouched && t) workers.value = t.workers;
      $("[data-workers-help]").textContent = "1 to 5: more people, more reliable labels" +
        (t ? " (" + t.workers + " by default for " + t.label.toLowerCase() + ")." : ".");
    }
    workers.addEventListener("input", function () { workersTouched = true; });
    var auto = $("[data-auto]"), target = $("[data-target]");
    function autoChanged() { target.disabled = !auto.checked; }
    auto.addEventListener("change", autoChanged);
    autoChanged();
    [datasetSel, taskSel, verifiesSel].forEach(function (el) { el.addEventListener("change", refresh); });
    refresh();

    // The request body, in LabelingJobIn's fields; a gold list that is not JSON is an error
    // shown beside its field before anything is sent.
    function body(strict) {
      var out = {
        project: config.project,
        name: $("#lj-name").value.trim(),
        dataset: Number(datasetSel.value) || null,
        task_type: taskSel.value,
        data_column: columnSel.value,
        labels: $("[data-labels]").value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean),
        workers_per_item: Number(workers.value) || null,
        time_limit_seconds: Number($("#lj-time").value) || 300,
        consolidation: $("[data-consolidation]").value,
        show_previous_answers: $("[data-previous]").checked,
        instructions: $("[data-instructions]").value,
        teams: Array.prototype.map.call(form.querySelectorAll('input[name="teams"]:checked'), function (c) { return c.value; }),
      };
      if (taskSel.value === "verification") {
        out.verifies = verifiesSel.value;
        out.pre_annotation_column = preSel.value;
      }
      if (taskSel.value === "video_tracking") out.sequence_column = seqSel.value;
      if (byTask[taskSel.value] && byTask[taskSel.value].auto && $("[data-auto]").checked) {
        out.auto_labeling = { enabled: true, target_accuracy: Number($("[data-target]").value) };
      }
      var gold = $("[data-gold]").value.trim();
      if (gold) {
        try {
          out.gold_items = JSON.parse(gold);
        } catch (e) {
          if (strict) throw { field: "gold_items", message: "Not JSON: " + e.message };
          out.gold_items = gold;
        }
      }
      return out;
    }

    $("[data-show-request]").addEventListener("click", function () {
      var box = $("[data-request]");
      $("[data-request-text]").textContent = F.curl(config.api, body(false));
      box.hidden = !box.hidden;
    });
    // Keep the shown request current as the form changes.
    form.addEventListener("input", function () {
      if (!$("[data-request]").hidden) $("[data-request-text]").textContent = F.curl(config.api, body(false));
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var data;
      try {
        data = body(true);
      } catch (err) {
        F.clearErrors(form);
        F.showError(form, err, "The labeling job could not be created.");
        return;
      }
      F.submitJSON(form, config.api, data, config.detail, "The labeling job could not be created.");
    });
  });
})();
