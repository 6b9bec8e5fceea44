/* The new-endpoint form: variant rows, the request it makes, the API's errors beside
   their fields. */
(function () {
  "use strict";

  var F = window.SextantForms;

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-endpoint-form]");
    if (!form) return;
    var config = JSON.parse(document.getElementById("endpoint-config").textContent);
    var rows = form.querySelector("[data-variants]");

    function options(select, selected, allowNone) {
      select.innerHTML = allowNone ? '<option value="">none</option>' : "";
      config.packages.forEach(function (p) {
        var o = document.createElement("option");
        o.value = p.id;
        o.textContent = p.label + (p.approval === "Approved" ? "" : " — " + p.approval);
        o.disabled = !p.deployable;
        if (selected === p.id) o.selected = true;
        select.appendChild(o);
      });
    }

    function addVariant(selected) {
      var i = rows.children.length;
      var row = document.createElement("div");
      row.className = "form-grid variant-row";
      row.dataset.variant = String(i);
      row.innerHTML =
        '<div class="field"><label>Variant name</label><input class="input mono" data-name maxlength="63" value="' +
        (i === 0 ? "primary" : "variant-" + (i + 1)) + '"><ul class="errorlist" data-error-for="variants.' + i + '.name" hidden></ul></div>' +
        '<div class="field"><label>Model</label><select class="input" data-package></select><ul class="errorlist" data-error-for="variants.' + i + '.model_package" hidden></ul></div>' +
        '<div class="field"><label>Weight</label><input class="input" type="number" min="0" step="any" data-weight value="1"><ul class="errorlist" data-error-for="variants.' + i + '.weight" hidden></ul></div>' +
        '<div class="field"><label>Instances</label><input class="input" type="number" min="1" max="16" data-count value="1"><ul class="errorlist" data-error-for="variants.' + i + '.instance_count" hidden></ul></div>';
      rows.appendChild(row);
      options(row.querySelector("[data-package]"), selected, false);
      return row;
    }

    addVariant(config.selected);
    options(form.querySelector("[data-shadow]"), null, true);
    form.querySelector("[data-add-variant]").addEventListener("click", function () { addVariant(null); });

    function body() {
      var out = { project: config.project, name: form.querySelector("#ep-name").value.trim(), variants: [] };
      rows.querySelectorAll("[data-variant]").forEach(function (row) {
        out.variants.push({
          name: row.querySelector("[data-name]").value.trim(),
          model_package: Number(row.querySelector("[data-package]").value) || null,
          weight: Number(row.querySelector("[data-weight]").value),
          instance_count: Number(row.querySelector("[data-count]").value),
        });
      });
      var shadow = form.querySelector("[data-shadow]").value;
      if (shadow) out.shadow = { name: "shadow", model_package: Number(shadow) };
      var capture = Number(form.querySelector("#ep-capture").value);
      if (capture > 0) out.data_capture = { percent: capture };
      return out;
    }

    form.querySelector("[data-show-request]").addEventListener("click", function () {
      var box = form.querySelector("[data-request]");
      form.querySelector("[data-request-text]").textContent = F.curl(config.api, body());
      box.hidden = !box.hidden;
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      F.submitJSON(form, config.api, body(), config.detail, "The endpoint could not be created.");
    });
  });
})();
