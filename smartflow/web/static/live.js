// Live updates: the page follows its process's change feed (GET /api/v1/processes/{process}/events,
// Server-Sent Events sent as the signed-in user sees the items). The kanban, the list and the deadlines
// and calendar views read their own page again (its address holds the filter) and put in the fresh
// columns, rows, groups or weeks (so counts, sums, rights and hidden fields are the server's, never
// guessed here); the card says when someone else changed the item it shows.
// The browser reconnects by itself and resumes after the last event (Last-Event-ID).
(function () {
  "use strict";
  const process = document.body.dataset.live;
  if (!process || !window.EventSource) return;
  const board = document.querySelector(".board");
  const table = document.querySelector("table.items");
  const head = document.querySelector(".item-head[data-item-id]");
  const deadlines = document.querySelector(".deadlines");
  const calendar = document.querySelector("table.calendar");
  let pending = null;

  function busy() {  // a drag, a move in flight or an open dialog: the page is not refreshed under the hand
    return document.querySelector(".sortable-chosen, .sortable-ghost, .card.pending, dialog[open]") !== null;
  }

  async function freshPage() {
    const answer = await fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } });
    if (!answer.ok) return null;
    return new DOMParser().parseFromString(await answer.text(), "text/html");
  }

  async function refreshBoard() {
    const fresh = await freshPage();
    if (!fresh || busy()) { later(); return; }
    for (const column of fresh.querySelectorAll(".column[data-stage]")) {
      const mine = board.querySelector('.column[data-stage="' + CSS.escape(column.dataset.stage) + '"]');
      if (!mine) continue;
      mine.querySelector("[data-count]").replaceWith(column.querySelector("[data-count]"));
      mine.querySelector("[data-sums]").replaceWith(column.querySelector("[data-sums]"));
      const list = mine.querySelector("ol.cards");
      const fresh = [...column.querySelector("ol.cards").childNodes];
      // the column's "more" marker stays the one board.js watches; it only learns where the next page starts
      const marker = list.querySelector(".more[data-after]");
      const freshMarker = fresh.find((node) => node.classList && node.classList.contains("more"));
      if (marker && freshMarker) {
        marker.dataset.after = freshMarker.dataset.after;
        fresh.splice(fresh.indexOf(freshMarker), 1, marker);
      }
      list.replaceChildren(...fresh);
    }
    board.dispatchEvent(new CustomEvent("sf:refreshed"));
  }

  async function refreshList() {
    const fresh = await freshPage();
    const rows = fresh && fresh.querySelector("table.items tbody");
    if (rows) table.querySelector("tbody").replaceChildren(...rows.childNodes);
  }

  function colour(nodes) {  // what page.js does on load, for the elements put in now
    for (const node of nodes) {
      if (!node.querySelectorAll) continue;
      for (const element of [node, ...node.querySelectorAll("[data-stage-color]")]) {
        if (element.dataset && element.dataset.stageColor) element.style.setProperty("--stage-color", element.dataset.stageColor);
      }
    }
  }

  async function refreshDeadlines() {  // each group's count and cards (the lists stay: deadlines.js drags them)
    const fresh = await freshPage();
    if (!fresh || busy()) { later(); return; }
    for (const group of fresh.querySelectorAll(".deadlines [data-group]")) {
      const mine = deadlines.querySelector('[data-group="' + CSS.escape(group.dataset.group) + '"]');
      if (!mine) continue;
      mine.querySelector("[data-count]").replaceWith(group.querySelector("[data-count]"));
      const cards = [...group.querySelector("ol.cards").childNodes];
      mine.querySelector("ol.cards").replaceChildren(...cards);
      colour(cards);
    }
  }

  async function refreshCalendar() {
    const fresh = await freshPage();
    const weeks = fresh && fresh.querySelector("table.calendar tbody");
    if (!weeks) return;
    const days = [...weeks.childNodes];
    calendar.querySelector("tbody").replaceChildren(...days);
    colour(days);
  }

  function refresh() {
    pending = null;
    if (busy()) { later(); return; }
    const step = board ? refreshBoard : deadlines ? refreshDeadlines : calendar ? refreshCalendar : refreshList;
    step().catch(later);
  }

  function later() {
    if (pending === null) pending = window.setTimeout(refresh, 400);
  }

  function changedElsewhere(told) {
    const id = Number(head.dataset.itemId);
    const version = Number(head.dataset.version);
    const mine = told.items.find((item) => item.id === id);
    if (!(told.reload || (mine && mine.version !== version))) return;
    const notice = document.getElementById("live-notice");
    if (notice) notice.hidden = false;
  }

  // from where the page was rendered: a change made while it loaded is not missed
  const source = new EventSource("/api/v1/processes/" + encodeURIComponent(process) + "/events?after="
    + encodeURIComponent(document.body.dataset.liveAfter));
  source.addEventListener("changes", (event) => {
    const told = JSON.parse(event.data);
    if (head) changedElsewhere(told);
    else if (board || table || deadlines || calendar) later();
  });
  source.addEventListener("ended", () => source.close());  // signed out: nothing more to follow
})();
