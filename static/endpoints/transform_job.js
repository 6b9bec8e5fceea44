/* A batch transform's page: the rows scored so far, read from the transform's API every 2 s
   while its job runs (studio/job.js follows the job itself: status, progress, log, and the
   reload that shows the predictions dataset once it is done). */
(function () {
  "use strict";

  var root = document.querySelector("[data-transform-api]");
  if (!root) return;
  var out = root.querySelector("[data-rows-done]");
  var active = (root.dataset.active || "").split(",");
  if (!out || active.indexOf(root.dataset.status) === -1) return;

  function refresh() {
    fetch(root.dataset.transformApi, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (t) {
        out.textContent = Number(t.rows_done).toLocaleString("en-US");
        if (active.indexOf(t.status) !== -1) setTimeout(refresh, 2000);
      })
      .catch(function () { setTimeout(refresh, 5000); });
  }
  setTimeout(refresh, 1000);
})();
