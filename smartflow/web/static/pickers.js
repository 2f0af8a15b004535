// Pickers of linked items and people: a text input with role="combobox" searches, as you type, the
// API's lookup (`…/lookup?search=` for a link field, `…/people?field=` for a user field) with the
// session the board signed in with — so the options are only what the user may read — and a hidden
// input keeps the chosen id, which is what the form posts. Keyboard: ↓/↑ move through the options,
// Enter chooses, Escape closes; emptying the text clears the value. Also: a form with
// data-confirm asks before it is submitted. (A static file: the board's CSP allows no inline script.)
(function () {
  "use strict";
  const DELAY = 200;

  function setup(box) {
    const input = box.querySelector("[role=combobox]");
    const hidden = box.querySelector("input[type=hidden]");
    const list = box.querySelector("[role=listbox]");
    if (!input || !hidden || !list) return;
    let options = [];
    let active = -1;
    let timer = null;
    let asked = 0;
    let chosenLabel = input.value;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function mark(index) {
      active = index;
      options.forEach((option, n) => option.element.setAttribute("aria-selected", n === index ? "true" : "false"));
      if (index >= 0 && options[index]) {
        input.setAttribute("aria-activedescendant", options[index].element.id);
        options[index].element.scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      const option = options[index];
      if (!option) return;
      hidden.value = String(option.id);
      input.value = option.label;
      chosenLabel = option.label;
      close();
      hidden.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function show(found) {
      list.replaceChildren();
      options = found.map((entry, n) => {
        const element = document.createElement("li");
        element.setAttribute("role", "option");
        element.id = list.id + "-" + n;
        element.setAttribute("aria-selected", "false");
        element.dataset.value = String(entry.id);
        element.textContent = entry.label;
        element.addEventListener("mousedown", (event) => {
          event.preventDefault(); // keep the focus in the input
          choose(n);
        });
        list.appendChild(element);
        return { id: entry.id, label: entry.label, element: element };
      });
      if (!options.length) {
        const none = document.createElement("li");
        none.className = "picker-none";
        none.textContent = box.dataset.none || "—";
        list.appendChild(none);
      }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      mark(options.length ? 0 : -1);
    }

    async function search() {
      const ask = ++asked;
      const url = new URL(box.dataset.source, window.location.origin);
      url.searchParams.set("search", input.value.replace(/\s*\(#\d+\)\s*$/, "").trim());
      url.searchParams.set("limit", "20");
      let answer;
      try {
        answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      } catch (error) {
        return;
      }
      if (ask !== asked || !answer.ok) return;
      const data = await answer.json();
      const kind = box.dataset.kind;
      const rows = kind === "user" ? data.users || [] : data.items || [];
      show(rows.map((row) => ({
        id: row.id,
        label: kind === "user" ? row.name + (row.name !== row.login ? " (" + row.login + ")" : "")
          : row.title + " (#" + row.id + ")",
      })));
    }

    input.addEventListener("input", () => {
      close(); // the options shown were for other text: none may be chosen until the new ones come
      options = [];
      asked++; // and an answer still on its way is for other text too
      if (input.value.trim() === "") {
        hidden.value = "";
        chosenLabel = "";
      }
      clearTimeout(timer);
      timer = setTimeout(search, DELAY);
    });
    input.addEventListener("focus", () => {
      if (input.value.trim() === "" || input.value !== chosenLabel) {
        clearTimeout(timer);
        timer = setTimeout(search, DELAY);
      }
    });
    input.addEventListener("keydown", (event) => {
      const open = !list.hidden;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!open) search();
        else mark(Math.min(active + 1, options.length - 1));
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (open) mark(Math.max(active - 1, 0));
      } else if (event.key === "Enter") {
        if (open && active >= 0) {
          event.preventDefault(); // choose, do not submit the form
          choose(active);
        }
      } else if (event.key === "Escape") {
        if (open) {
          event.preventDefault();
          close();
        }
      }
    });
    input.addEventListener("blur", () => {
      close();
      if (input.value.trim() === "") {
        hidden.value = "";
        chosenLabel = "";
      } else if (input.value !== chosenLabel) {
        input.value = chosenLabel; // text typed but nothing chosen: the value stays what it was
      }
    });
  }

  // the pickers of a part of the page (the kanban's required-fields dialog is inserted later)
  function setupAll(root) {
    for (const box of root.querySelectorAll("[data-picker]")) {
      if (box.dataset.ready) continue;
      box.dataset.ready = "1";
      setup(box);
    }
  }
  window.smartflowPickers = { setup: setupAll };
  setupAll(document);
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
})();
