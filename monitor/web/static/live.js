// The alert queue, live: every few seconds the rows are fetched again from
// /fragments/queue (same filters, same page) and swapped in, keeping what the lead has
// ticked or opened. Without JavaScript the page is the same, refreshed by reloading.
(function () {
  "use strict";
  var rows = document.getElementById("queue-rows");
  if (!rows || !window.fetch || !window.DOMParser) return;
  var table = rows.closest("table");
  var note = document.getElementById("live-note");
  var total = document.getElementById("total");
  var every = Math.max(parseInt(rows.getAttribute("data-every"), 10) || 10, 2) * 1000;
  var busy = false;

  function ids(body, selector) {
    var found = {};
    body.querySelectorAll(selector).forEach(function (el) {
      var row = el.closest("tr[data-alert]");
      if (row) found[row.getAttribute("data-alert")] = true;
    });
    return found;
  }

  function say(template, n) {
    return template ? template.replace("{n}", String(n)) : "";
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("queue-rows");
    if (!fresh) return;
    var counts = document.getElementById("counts");
    var freshCounts = doc.getElementById("counts");
    if (counts && freshCounts) counts.replaceWith(document.importNode(freshCounts, true));
    var before = ids(rows, "td");
    var ticked = ids(rows, "input[name=ids]:checked");
    var opened = ids(rows, "details[open]");
    var added = 0;
    var now = ids(fresh, "td");
    fresh.querySelectorAll("tr[data-alert]").forEach(function (row) {
      var id = row.getAttribute("data-alert");
      if (!before[id]) { row.classList.add("new"); added += 1; }
      if (ticked[id]) { var box = row.querySelector("input[name=ids]"); if (box) box.checked = true; }
      if (opened[id]) { var d = row.querySelector("details"); if (d) d.open = true; }
    });
    var gone = Object.keys(before).filter(function (id) { return !now[id]; }).length;
    var adopted = document.importNode(fresh, true);
    rows.replaceWith(adopted);
    rows = adopted;
    if (total) {
      var n = rows.getAttribute("data-total");
      total.textContent = n;
      var word = document.getElementById("total-word");
      if (word) word.textContent = word.getAttribute(n === "1" ? "data-one" : "data-many");
    }
    if (note && (added || gone)) {
      var parts = [];
      if (added) parts.push(say(table.getAttribute("data-new"), added));
      if (gone) parts.push(say(table.getAttribute("data-gone"), gone));
      note.textContent = parts.join(" · ");
      note.hidden = false;
    }
  }

  function tick() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(rows.getAttribute("data-live"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) swap(html); })
      .catch(function () { /* offline for a moment: try again on the next tick */ })
      .then(function () { busy = false; });
  }

  window.setInterval(tick, every);
})();
