/* Sextant: the small behaviours every page shares. No framework; htmx does the requests. */
(function () {
  "use strict";

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  // "/" focuses the search box; Escape leaves it and closes any open menu.
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "/" && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !isTyping(document.activeElement)) {
      var search = document.querySelector("[data-search]");
      if (search) {
        ev.preventDefault();
        search.focus();
        search.select();
      }
    } else if (ev.key === "Escape") {
      closeMenus(null);
      if (isTyping(document.activeElement) && document.activeElement.matches("[data-search]")) {
        document.activeElement.blur();
      }
    }
  });

  // Dropdown menus are <details data-menu>: one open at a time, closed by a click outside.
  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (d) {
      if (d !== except) d.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (ev) {
    var inside = ev.target.closest("details[data-menu]");
    closeMenus(inside);
  });

  // Tabs: <nav data-tabs> with <a data-tab=name>, panels <section data-panel=name>.
  // The hash keeps the tab across reloads; a panel announces itself when shown so that
  // charts inside it can be drawn at their real size.
  function showTab(nav, name, push) {
    var tabs = nav.querySelectorAll("[data-tab]");
    var found = false;
    tabs.forEach(function (t) { if (t.dataset.tab === name) found = true; });
    if (!found) return false;
    tabs.forEach(function (t) {
      var on = t.dataset.tab === name;
      t.classList.toggle("is-active", on);
      t.setAttribute("aria-selected", on ? "true" : "false");
    });
    document.querySelectorAll("[data-panel]").forEach(function (p) {
      var on = p.dataset.panel === name;
      var was = !p.hidden;
      p.hidden = !on;
      if (on && !was) p.dispatchEvent(new CustomEvent("studio:shown", { bubbles: true }));
    });
    if (push) history.replaceState(null, "", "#" + name);
    return true;
  }
  function initTabs() {
    var nav = document.querySelector("[data-tabs]");
    if (!nav) return;
    nav.addEventListener("click", function (ev) {
      var tab = ev.target.closest("[data-tab]");
      if (!tab) return;
      ev.preventDefault();
      showTab(nav, tab.dataset.tab, true);
    });
    document.addEventListener("click", function (ev) {
      var link = ev.target.closest("[data-tab-link]");
      if (!link) return;
      ev.preventDefault();
      showTab(nav, link.dataset.tabLink, true);
      nav.scrollIntoView({ block: "nearest" });
    });
    var wanted = location.hash.replace("#", "");
    if (wanted) showTab(nav, wanted, false);
    window.addEventListener("hashchange", function () {
      var name = location.hash.replace("#", "");
      if (name) showTab(nav, name, false);
    });
  }

  // The upload drop zone names the chosen file, and the button says it is working.
  function humanSize(n) {
    var units = ["bytes", "KB", "MB", "GB", "TB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }
  function initUpload() {
    var zone = document.querySelector("[data-dropzone]");
    if (zone) {
      var input = zone.querySelector("input[type=file]");
      var label = zone.querySelector("[data-dropzone-label]");
      input.addEventListener("change", function () {
        var f = input.files && input.files[0];
        if (f) {
          label.textContent = f.name + " · " + humanSize(f.size);
          label.classList.add("chosen");
          var name = document.getElementById("id_name");
          if (name && !name.value) name.placeholder = f.name.replace(/\.[^.]+$/, "");
        }
      });
      ["dragenter", "dragover"].forEach(function (t) {
        zone.addEventListener(t, function () { zone.classList.add("is-over"); });
      });
      ["dragleave", "drop"].forEach(function (t) {
        zone.addEventListener(t, function () { zone.classList.remove("is-over"); });
      });
    }
    var form = document.querySelector("[data-upload-form]");
    if (form) {
      form.addEventListener("submit", function () {
        var btn = form.querySelector("[data-submit]");
        if (btn) {
          btn.disabled = true;
          btn.querySelector("span").textContent = "Uploading…";
        }
      });
    }
  }

  // Copy buttons: <button data-copy="#selector">.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.querySelector(btn.dataset.copy);
    if (!src || !navigator.clipboard) return;
    navigator.clipboard.writeText(src.textContent.trim()).then(function () {
      var before = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = before; }, 1400);
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    initTabs();
    initUpload();
  });
})();
