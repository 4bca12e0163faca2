/* The operations overview refreshes itself: it polls the staff-only overview endpoint and swaps in each section,
   faster while a backup or a restore drill runs so its progress moves. Strings come from the page (translated there). */
(function () {
  "use strict";
  var root = document.getElementById("operations-overview");
  if (!root) { return; }
  var messages = JSON.parse(document.getElementById("overview-messages").textContent);
  var status = document.getElementById("overview-refresh");
  var idle = Number(root.dataset.interval) * 1000;
  var busy = Number(root.dataset.busyInterval) * 1000;

  function focusInside(section) {
    var active = document.activeElement;
    return active && active !== document.body && section.contains(active) && active.tagName === "SELECT";
  }

  function apply(data) {
    Object.keys(data.sections).forEach(function (name) {
      var section = root.querySelector('[data-overview-section="' + name + '"]');
      if (section && !focusInside(section) && section.innerHTML !== data.sections[name]) {
        section.innerHTML = data.sections[name];
      }
    });
    root.dataset.healthStatus = data.health.status || "";
    root.dataset.backupActive = data.backup.active ? data.backup.active.status : "";
    status.textContent = messages.updated.replace("%(time)s", new Date().toLocaleTimeString());
    return data.backup.active || drilling() ? busy : idle;
  }

  function refresh() {
    fetch(root.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(apply)
      .catch(function () { status.textContent = messages.failed; return idle; })
      .then(function (next) { window.setTimeout(refresh, next); });
  }

  function drilling() {  // a restore drill runs: its row (templates/admin/overview/_backups.html) is in the section
    return root.querySelector("#overview-drill") !== null;
  }

  var running = document.getElementById("overview-now");
  window.setTimeout(refresh, (running && running.dataset.activeStatus) || drilling() ? busy : idle);
})();
