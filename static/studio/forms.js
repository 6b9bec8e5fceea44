/* What every form that posts to the API from its page shares: the CSRF token, the API's
   errors shown beside their fields, the POST itself, and its curl equivalent. */
(function () {
  "use strict";

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach(function (ul) { ul.hidden = true; ul.innerHTML = ""; });
    form.querySelectorAll(".field.has-error").forEach(function (f) { f.classList.remove("has-error"); });
    var box = form.querySelector("[data-form-error]");
    if (box) box.hidden = true;
  }

  // The error under its field's list, else the nearest visible one up its path
  // ("variants.0.weight" → "variants"), else `near(field)`'s, else the form's banner.
  function showError(form, error, fallback, near) {
    var field = error.field || "";
    var ul = null;
    for (var parts = field.split("."); parts.length && !ul; parts.pop()) {
      var found = form.querySelector('[data-error-for="' + CSS.escape(parts.join(".")) + '"]');
      if (found && !found.parentElement.closest("[hidden]")) ul = found;
    }
    if (!ul && near) ul = near(field);
    if (ul) {
      var li = document.createElement("li");
      li.textContent = error.message;
      ul.appendChild(li);
      ul.hidden = false;
      var holder = ul.closest(".field");
      if (holder) {
        holder.classList.add("has-error");
        var input = holder.querySelector("input, select, textarea");
        if (input) input.focus();
      }
      return;
    }
    var box = form.querySelector("[data-form-error]");
    box.querySelector("[data-form-error-text]").textContent = error.message || fallback;
    box.hidden = false;
  }

  // POST `body` as JSON; on success go to `detail` with the new object's id, else show the
  // API's error in the form.
  function submitJSON(form, url, body, detail, fallback) {
    clearErrors(form);
    var button = form.querySelector("[data-submit]");
    button.disabled = true;
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      if (res.ok) { location.href = detail.replace("{id}", res.data.id); return; }
      button.disabled = false;
      showError(form, res.data.error || { message: JSON.stringify(res.data) }, fallback);
    }).catch(function () {
      button.disabled = false;
      showError(form, { message: "The studio could not be reached; try again." }, fallback);
    });
  }

  function curl(url, body) {
    return "curl -X POST " + location.origin + url + " \\\n" +
      '  -H "Authorization: Token $SEXTANT_TOKEN" -H "Content-Type: application/json" \\\n' +
      "  -d '" + JSON.stringify(body, null, 2).replace(/'/g, "'\\''") + "'";
  }

  window.SextantForms = { csrf: csrf, clearErrors: clearErrors, showError: showError,
                          submitJSON: submitJSON, curl: curl };
})();
