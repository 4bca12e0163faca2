// The alert rule form: shows only the fields of the kind chosen under "Watches" (alerting/forms.py marks each
// widget with data-rule-kind). A field with an error stays visible, so the server's message is never hidden. On
// submit, the text fields of the other kinds are emptied: what is hidden is not saved (the server refuses it).
(function () {
  "use strict";
  function start() {
    var select = document.querySelector("[data-rule-kind-select]");
    if (!select) return;
    var form = select.form;
    var widgets = Array.prototype.slice.call(form.querySelectorAll("[data-rule-kind]"));

    function box(widget) {  // a field sharing its row with others has a .fieldBox of its own; else the .form-row
      return widget.closest(".fieldBox") || widget.closest(".form-row");
    }

    function apply() {
      var rows = new Map();
      widgets.forEach(function (widget) {
        var shown = widget.getAttribute("data-rule-kind") === select.value;
        var element = box(widget);
        var erroneous = element.querySelector(".errorlist") !== null;
        element.hidden = !(shown || erroneous);
        var row = widget.closest(".form-row");
        rows.set(row, (rows.get(row) || false) || !element.hidden);
      });
      rows.forEach(function (visible, row) { row.hidden = !visible; });
    }

    select.addEventListener("change", apply);
    form.addEventListener("submit", function () {
      widgets.forEach(function (widget) {
        var text = widget.tagName === "INPUT" && widget.type !== "checkbox" && widget.type !== "radio";
        if (text && widget.getAttribute("data-rule-kind") !== select.value) widget.value = "";
      });
    });
    apply();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
