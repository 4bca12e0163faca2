// Live progress of a running backup or restore: polls the page's JSON endpoint and fills the fields (bytes, percent
// and bar, time left; a row whose value is empty, e.g. no estimate, is hidden); when the job is over, reloads the
// page once so the outcome (artifacts, errors, log) shows. Served by the portal, no CDN.
(function () {
  "use strict";
  var panel = document.getElementById("live-progress");
  if (!panel) return;
  var url = panel.getAttribute("data-progress-url");
  var every = 1000;  // the worker writes progress every BACKUP_PROGRESS_EVERY (1 s by default, at most 2 s)

  function update(data) {
    Object.keys(data.fields || {}).forEach(function (key) {
      var element = panel.querySelector('[data-field="' + key + '"]');
      if (!element) return;
      element.textContent = data.fields[key];
      if (element.hasAttribute("data-hide-empty")) {
        element.closest(".form-row").hidden = data.fields[key] === "";
      }
    });
    var bar = panel.querySelector("[data-percent]");
    if (bar && data.percent !== null && data.percent !== undefined) bar.value = data.percent;
    if (data.finished) {
      window.location.reload();
      return true;
    }
    return false;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (!(data && update(data))) window.setTimeout(poll, every); })
      .catch(function () { window.setTimeout(poll, every); });
  }

  poll();
})();
