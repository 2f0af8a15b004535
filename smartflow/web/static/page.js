// What every page of the board does that HTML alone cannot, without inline script or style (the
// Content-Security-Policy allows neither): a stage's colour from its data-stage-color attribute,
// and a <select> or checkbox with data-submit-on-change that submits its form when a choice is made.
(function () {
  "use strict";
  for (const element of document.querySelectorAll("[data-stage-color]")) {
    const color = element.dataset.stageColor;
    if (color) element.style.setProperty("--stage-color", color);
  }
  for (const select of document.querySelectorAll("select[data-submit-on-change], input[data-submit-on-change]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
})();
