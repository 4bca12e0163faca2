// Live progress of a running backup or restore: polls the page's JSON endpoint and fills the fields; when the job
// is over, reloads the page once so the outcome (artifacts, errors, log) shows. Served by the portal, no CDN.
(function () {
  "use strict";
  var panel = document.getElementById("live-progress");
  if (!panel) return;
  var url = panel.getAttribute("data-progress-url");
  var every = 2000;

  function update(data) {
    Object.keys(data.fields || {}).forEach(function (key) {
      var element = panel.querySelector('[data-field="' + key + '"]');
      if (element) element.textContent = data.fields[key];
    });
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
