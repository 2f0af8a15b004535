// The card's timeline: moments shown in the browser's own zone and language (the server writes them in UTC),
// and the to-do form sends the browser's UTC offset with a deadline's time, so "15:00" means 15:00 here.
(function () {
  "use strict";
  const lang = document.documentElement.lang || "en";
  const format = new Intl.DateTimeFormat(lang === "ru" ? "ru-RU" : "en-GB",
    { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  for (const node of document.querySelectorAll("time[data-local]")) {
    const value = node.getAttribute("datetime") || "";
    if (!value.includes("T")) continue;  // a day is the same day everywhere
    const moment = new Date(value);
    if (!Number.isNaN(moment.getTime())) node.textContent = format.format(moment);
  }
  const minutes = -new Date().getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const offset = sign + pad(minutes / 60) + ":" + pad(minutes % 60);
  for (const input of document.querySelectorAll("input[data-tz]")) input.value = offset;
}());
