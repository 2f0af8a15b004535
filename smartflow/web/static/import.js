// The board's import, while it runs: asks the server how far it got (the progress JSON of the upload)
// and shows it, then the outcome (created, updated, failed rows and their problems) or the failure.
(function () {
  "use strict";
  const run = document.querySelector(".import-run[data-progress]");
  if (!run) return;
  const bar = run.querySelector("progress");
  const rows = run.querySelector("[data-rows]");
  const total = run.querySelector("[data-total]");
  const done = run.querySelector(".import-done");
  const failed = run.querySelector(".import-failed");
  const words = document.getElementById("import-words").dataset;

  function show(state) {
    rows.textContent = String(state.rows || 0);
    if (state.total !== undefined) {
      total.textContent = String(state.total);
      bar.max = Math.max(state.total, 1);
    }
    bar.value = state.state === "running" ? (state.rows || 0) : bar.max;
    run.dataset.state = state.state;
    if (state.state === "done") {
      done.querySelector("[data-outcome]").textContent = words.done.replace("{created}", state.created)
        .replace("{updated}", state.updated).replace("{failed}", state.failed_rows);
      const list = done.querySelector(".problems");
      list.replaceChildren(...(state.problems || []).map((text) => {
        const item = document.createElement("li");
        item.textContent = text;
        return item;
      }));
      done.hidden = false;
    } else if (state.state === "failed") {
      failed.textContent = state.message + (state.hint ? " (" + state.hint + ")" : "");
      failed.hidden = false;
    }
    return state.state === "running" || state.state === "waiting";
  }

  async function poll() {
    try {
      const answer = await fetch(run.dataset.progress, { credentials: "same-origin", cache: "no-store" });
      if (answer.ok && !show(await answer.json())) return;
    } catch (error) {
      // the server restarting, or the network away: ask again
    }
    window.setTimeout(poll, 400);
  }

  if (run.dataset.state === "running" || run.dataset.state === "waiting") poll();
})();
