// The files a form's <input type="file"> inputs hold, uploaded through the API before the form's other
// values are sent (the required-fields dialog of a move: a stage that requires a file). Each input is
// named by its field id; the session cookie and the CSRF header authenticate, as the board's moves do.
(function () {
  "use strict";

  async function upload(form, process, itemId, csrf) {
    const reasons = [];
    for (const input of form.querySelectorAll("input[type=file]")) {
      if (!input.files || input.files.length === 0) continue;
      const body = new FormData();
      for (const file of input.files) body.append("file", file, file.name);
      const response = await fetch("/api/v1/processes/" + encodeURIComponent(process) + "/items/"
        + encodeURIComponent(itemId) + "/files/" + encodeURIComponent(input.name), {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
      });
      if (!response.ok) {
        let message = response.statusText;
        try { message = (await response.json()).message || message; } catch (_) { /* not JSON */ }
        reasons.push(message);
      }
    }
    return reasons;
  }

  window.smartflowFiles = { upload: upload };
})();
