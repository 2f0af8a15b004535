// The deadlines view ("Сроки"): drag a card (SortableJS) into another group and the server gives the
// item the day that group stands for, through the ordinary item update (rights, read-only and required
// fields, validation). Refused: the card goes back and the reasons show in the role="alert" box.
(function () {
  "use strict";
  const board = document.querySelector(".deadlines");
  if (!board || !board.hasAttribute("data-may-update")) return;
  const process = board.dataset.process;
  const field = board.dataset.field;
  const csrf = board.dataset.csrf;
  const alertBox = document.getElementById("board-alert");

  function showReasons(reasons) {
    alertBox.replaceChildren();
    const heading = document.createElement("strong");
    heading.textContent = board.dataset.wordRefused;
    const list = document.createElement("ul");
    for (const reason of reasons) {
      const li = document.createElement("li");
      li.textContent = reason;
      list.appendChild(li);
    }
    alertBox.append(heading, list);
    alertBox.hidden = false;
  }

  function count(group, delta) {
    const counter = board.querySelector('[data-group="' + CSS.escape(group) + '"] [data-count]');
    if (counter) counter.textContent = String(Number(counter.textContent) + delta);
  }

  function putBack(card, origin) {
    if (origin.next && origin.next.parentNode === origin.list) origin.list.insertBefore(card, origin.next);
    else origin.list.appendChild(card);
  }

  async function setGroup(card, group, origin) {
    alertBox.hidden = true;
    card.classList.add("pending");
    let answer;
    try {
      const response = await fetch("/processes/" + encodeURIComponent(process) + "/deadlines/" + card.dataset.itemId, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ group: group, field: field }),
        credentials: "same-origin",
      });
      try { answer = await response.json(); } catch (_) { answer = { moved: false, reasons: [response.statusText] }; }
    } catch (error) {
      answer = { moved: false, reasons: [String(error)] };
    } finally {
      card.classList.remove("pending");
    }
    if (!answer.moved) {
      putBack(card, origin);
      showReasons(answer.reasons || []);
      return;
    }
    count(origin.list.dataset.groupList, -1);
    count(group, +1);
    if (answer.card) {
      const holder = document.createElement("ol");
      holder.innerHTML = answer.card;
      const fresh = holder.querySelector(".card");
      if (fresh) { fresh.classList.add("movable"); addMenu(fresh); card.replaceWith(fresh); }
    }
  }

  // "Deadline…": the same moves from a menu on each card (keyboard, screen readers, a phone's long lists)
  const groups = [...board.querySelectorAll("[data-group]")].map((section) => ({
    id: section.dataset.group, title: section.querySelector("h2").textContent }));

  function addMenu(card) {
    if (card.querySelector(".date-menu")) return;
    const menu = document.createElement("details");
    menu.className = "move-menu date-menu";
    const summary = document.createElement("summary");
    summary.textContent = board.dataset.wordMenu;
    const list = document.createElement("ul");
    for (const group of groups) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.setGroup = group.id;
      button.textContent = group.title;
      item.appendChild(button);
      list.appendChild(item);
    }
    menu.append(summary, list);
    card.appendChild(menu);
  }

  board.addEventListener("click", (event) => {
    const button = event.target.closest("[data-set-group]");
    if (!button) return;
    const card = button.closest(".card");
    button.closest("details").open = false;
    const origin = { list: card.parentNode, next: card.nextElementSibling };
    const group = button.dataset.setGroup;
    if (group === origin.list.dataset.groupList) return;
    board.querySelector('[data-group-list="' + CSS.escape(group) + '"]').prepend(card);
    setGroup(card, group, origin);
  });

  for (const list of board.querySelectorAll(".cards")) {
    for (const card of list.querySelectorAll(".card")) { card.classList.add("movable"); addMenu(card); }
    Sortable.create(list, {
      group: "deadlines",
      sort: false,
      draggable: ".card",
      filter: ".date-menu",
      preventOnFilter: false,
      forceFallback: true,  // mouse and touch events, the same on every browser
      fallbackOnBody: true,
      animation: 150,
      onStart: (event) => {
        event.item.dataset.from = event.from.dataset.groupList;
        event.item._origin = { list: event.from, next: event.item.nextElementSibling };
      },
      onEnd: (event) => {
        const card = event.item;
        const origin = card._origin;
        const group = event.to.dataset.groupList;
        if (!origin || event.to === event.from) return;
        setGroup(card, group, origin);
      },
    });
  }
})();
