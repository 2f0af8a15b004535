// The kanban: drag a card (SortableJS) or use its "Move to…" menu; the server moves it through the
// same rules as the API. Refused: the card goes back and the reasons show in the role="alert" box.
// A stage that waits for fields opens a small form for exactly those; submitting it completes the move.
(function () {
  "use strict";
  const board = document.querySelector(".board");
  if (!board) return;
  const process = board.dataset.process;
  const pipeline = board.dataset.pipeline;
  const csrf = board.dataset.csrf;
  const alertBox = document.getElementById("board-alert");
  const dialog = document.getElementById("required-dialog");

  function showReasons(reasons, title) {
    alertBox.replaceChildren();
    const heading = document.createElement("strong");
    heading.textContent = title || board.dataset.wordRefused;
    const list = document.createElement("ul");
    for (const reason of reasons) {
      const li = document.createElement("li");
      li.textContent = reason;
      list.appendChild(li);
    }
    alertBox.append(heading, list);
    alertBox.hidden = false;
  }

  function clearAlert() {
    alertBox.hidden = true;
    alertBox.replaceChildren();
  }

  function columnOf(stage) {
    return board.querySelector('.column[data-stage="' + CSS.escape(stage) + '"]');
  }

  function putBack(card, origin) {
    if (!origin) return;
    const { list, next } = origin;
    if (next && next.parentNode === list) list.insertBefore(card, next);
    else list.appendChild(card);
  }

  function updateColumns(columns) {
    for (const [stage, totals] of Object.entries(columns)) {
      const column = columnOf(stage);
      if (!column) continue;
      column.querySelector("[data-count]").textContent = totals.count;
      const sums = column.querySelector("[data-sums]");
      sums.replaceChildren(...totals.sums.map((text) => {
        const span = document.createElement("span");
        span.textContent = text;
        return span;
      }));
    }
  }

  function formValues(form) {
    const values = {};
    for (const [name, value] of new FormData(form).entries()) {
      if (value instanceof File) continue;  // uploaded first (files.js)
      (values[name] = values[name] || []).push(String(value));
    }
    return values;
  }

  function askForFields(html, itemId) {
    return new Promise((resolve) => {
      dialog.innerHTML = html;
      if (window.smartflowPickers) window.smartflowPickers.setup(dialog); // link and user fields' comboboxes
      const form = dialog.querySelector("form");
      const done = (values) => { dialog.close(); resolve(values); };
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const refused = window.smartflowFiles ? await window.smartflowFiles.upload(form, process, itemId, csrf) : [];
        if (refused.length) { done(null); showReasons(refused); return; }
        done(formValues(form));
      });
      form.querySelector("[data-cancel]").addEventListener("click", () => done(null));
      dialog.addEventListener("cancel", () => resolve(null), { once: true });
      dialog.showModal();
      const first = form.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    });
  }

  async function post(itemId, stage, values) {
    const response = await fetch("/processes/" + encodeURIComponent(process) + "/items/" + itemId + "/move", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ stage: stage, values: values || null, filter: board.dataset.filter || null }),
      credentials: "same-origin",
    });
    let answer;
    try { answer = await response.json(); } catch (_) { answer = { moved: false, reasons: [response.statusText] }; }
    return answer;
  }

  // Move card to stage; origin is where it came from (to put it back when the move is refused).
  async function move(card, stage, origin) {
    clearAlert();
    card.classList.add("pending");
    let values = null;
    try {
      for (;;) {
        const answer = await post(card.dataset.itemId, stage, values);
        if (answer.moved) {
          landed(card, stage, answer);
          return true;
        }
        if (answer.form) {
          if (values) showReasons(answer.reasons || []);
          values = await askForFields(answer.form, card.dataset.itemId);
          if (values) continue;
          if (!alertBox.hidden) { putBack(card, origin); return false; }  // an upload was refused: its reasons show
        }
        putBack(card, origin);
        showReasons(answer.reasons || []);
        return false;
      }
    } finally {
      card.classList.remove("pending");
    }
  }

  function landed(card, stage, answer) {
    const list = columnOf(stage).querySelector(".cards");
    let fresh = null;
    if (answer.card) {
      const holder = document.createElement("ol");
      holder.innerHTML = answer.card;
      fresh = holder.querySelector(".card");
    }
    card.remove();
    if (fresh) {
      // the column is ordered newest first (by id), as the server pages it
      const id = Number(fresh.dataset.itemId);
      const after = [...list.children].find((el) => el.classList.contains("more")
        || (el.classList.contains("card") && Number(el.dataset.itemId) < id));
      list.insertBefore(fresh, after || null);
    }
    updateColumns(answer.columns || {});
  }

  // Drag and drop: only into the stages the card offers (its data-targets). Where a card lands is
  // the column under the pointer when it is let go, not where SortableJS last put it: dragged across
  // an allowed column to one it may not enter, SortableJS leaves it in the allowed one, and a drop
  // there must not move it. A drop outside a column the card may enter puts it back, no request sent;
  // a column it may not enter is marked while the card is held over it, and says why (`explain`).
  let origin = null;  // where the dragged card was: it goes back there when the move is refused
  let pointer = null;  // the pointer's last position during a drag
  let hovered = null;  // the column under the pointer
  const explained = new Map();  // "item stage" → the reasons a move there is refused (a promise)

  function stageOf(element) {
    const column = element && element.closest("[data-stage]");
    return column ? column.dataset.stage : null;
  }

  function allowed(card, stage) {
    return (card.dataset.targets || "").split(" ").includes(stage);
  }

  function track(event) {
    const point = event.touches ? event.touches[0] : event;
    if (point && typeof point.clientX === "number") pointer = { x: point.clientX, y: point.clientY };
  }

  function columnAt(point) {
    if (!point) return null;
    for (const column of board.querySelectorAll(".column[data-stage]")) {
      const box = column.getBoundingClientRect();
      if (point.x >= box.left && point.x <= box.right && point.y >= box.top && point.y <= box.bottom) return column;
    }
    return null;
  }

  function reasonsFor(card, stage) {
    const key = card.dataset.itemId + " " + stage;
    if (!explained.has(key)) {
      const url = "/processes/" + encodeURIComponent(process) + "/items/" + card.dataset.itemId + "/explain?stage="
        + encodeURIComponent(stage);
      explained.set(key, fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then((response) => response.json()).then((answer) => answer.reasons || [])
        .catch(() => []));
    }
    return explained.get(key);
  }

  async function sayWhyNot(card, column) {
    const stage = column.dataset.stage;
    const title = board.dataset.wordCannotEnter + ": " + column.querySelector("h2").textContent;
    showReasons([], title);
    const reasons = await reasonsFor(card, stage);
    if (hovered === column || !card.classList.contains("dragging")) showReasons(reasons, title);
  }

  function hover(card, column) {
    if (column === hovered) return;
    if (hovered) hovered.classList.remove("forbidden");
    hovered = column;
    const stage = column ? column.dataset.stage : null;
    if (!column || stage === stageOf(origin.list) || allowed(card, stage)) {
      clearAlert();
      return;
    }
    column.classList.add("forbidden");
    sayWhyNot(card, column);
  }

  function onPointerMove(event) {
    track(event);
    const card = board.querySelector(".card.dragging");
    if (card) hover(card, columnAt(pointer));
  }

  for (const list of board.querySelectorAll(".cards")) {
    Sortable.create(list, {
      group: {
        name: "board",
        pull: true,
        put: (to, _from, dragged) => allowed(dragged, stageOf(to.el)),
      },
      sort: false,
      draggable: ".card.movable",
      filter: ".move-menu",
      preventOnFilter: false,
      forceFallback: true,  // mouse and touch events, the same on every browser
      fallbackOnBody: true,
      animation: 150,
      onStart: (event) => {
        origin = { list: event.from, next: event.item.nextElementSibling };
        pointer = null;
        hovered = null;
        event.item.classList.add("dragging");
        document.addEventListener("pointermove", onPointerMove, true);
        document.addEventListener("touchmove", onPointerMove, { capture: true, passive: true });
      },
      onEnd: (event) => {
        document.removeEventListener("pointermove", onPointerMove, true);
        document.removeEventListener("touchmove", onPointerMove, { capture: true });
        const card = event.item;
        const dropped = event.originalEvent;
        track(dropped && dropped.changedTouches ? dropped.changedTouches[0] : dropped || {});
        const column = columnAt(pointer);
        if (hovered) hovered.classList.remove("forbidden");
        hovered = column;
        card.classList.remove("dragging");
        const stage = column ? column.dataset.stage : null;
        if (!stage || stage === stageOf(origin.list) || !allowed(card, stage)) {
          putBack(card, origin);  // no request: the card may not go there
          if (stage && stage !== stageOf(origin.list)) sayWhyNot(card, column);
          else clearAlert();
          hovered = null;
          return;
        }
        hovered = null;
        const list = column.querySelector(".cards");
        if (card.parentNode !== list) list.prepend(card);
        move(card, stage, origin);
      },
    });
  }

  // "Move to…": the same moves from a menu (keyboard and screen readers).
  board.addEventListener("click", (event) => {
    const button = event.target.closest("[data-move-to]");
    if (!button) return;
    const card = button.closest(".card");
    const origin = { list: card.parentNode, next: card.nextElementSibling };
    button.closest("details").open = false;
    move(card, button.dataset.moveTo, origin);
  });

  // More cards on scroll: the marker at the end of a column's list fetches its next page (keyset)
  // when it is scrolled into view inside that list, and moves below the new cards.
  async function loadMore(marker, watcher) {
    if (marker.dataset.loading) return;
    marker.dataset.loading = "1";
    const column = marker.closest("[data-stage]");
    const list = marker.parentNode;
    const url = "/processes/" + encodeURIComponent(process) + "/kanban/cards?pipeline=" + encodeURIComponent(pipeline)
      + "&stage=" + encodeURIComponent(column.dataset.stage) + "&after=" + marker.dataset.after
      + (board.dataset.filter ? "&" + board.dataset.filter : "");  // the board's filter: the same cards
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) { delete marker.dataset.loading; return; }
    const page = document.createElement("ol");
    page.innerHTML = await response.text();
    for (const card of [...page.children]) {  // a card moved here meanwhile is already shown
      if (!list.querySelector('.card[data-item-id="' + card.dataset.itemId + '"]')) list.insertBefore(card, marker);
    }
    const following = response.headers.get("X-Next-After");
    watcher.unobserve(marker);
    if (following) {
      marker.dataset.after = following;
      delete marker.dataset.loading;
      watcher.observe(marker);  // still in view (a tall column): asks again
    } else {
      marker.remove();
    }
  }

  const byHand = { observe() {}, unobserve() {} };  // a marker clicked, not watched
  for (const marker of board.querySelectorAll(".more[data-after]")) {
    const list = marker.parentNode;
    if (getComputedStyle(list).overflowY === "visible") {
      // a phone: columns grow with the page (no scroll inside it), so the next cards come on a tap —
      // loading them as the page scrolls would keep the next column out of reach
      marker.textContent = board.dataset.wordMore;
      marker.setAttribute("role", "button");
      marker.tabIndex = 0;
      marker.addEventListener("click", () => loadMore(marker, byHand));
      marker.addEventListener("keydown", (event) => { if (event.key === "Enter") loadMore(marker, byHand); });
      continue;
    }
    const watcher = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (entry.isIntersecting) loadMore(entry.target, watcher);
      }
    }, { root: list, rootMargin: "0px 0px 150px 0px" });
    watcher.observe(marker);
  }
})();
