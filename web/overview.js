// livecharts overview page: the most played artists in the window (the first
// SHOWN of them) and their number one, refreshed every two seconds from a
// document the server keeps up to date on each play and orders at most once a
// second. Names are set with textContent, never as HTML.
"use strict";

const WINDOWS = {
  "5m": "last 5 minutes",
  "1h": "last hour",
  "24h": "last 24 hours",
  all: "all time",
};
const REFRESH_MS = 2_000;
const SHOWN = 200;
const numbers = new Intl.NumberFormat();
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let windowName = Object.hasOwn(WINDOWS, params.get("window") ?? "") ? params.get("window") : "1h";

/** "tony-allen" → "Tony Allen". */
function prettyArtist(slug) {
  return slug.split("-").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(" ");
}

function cell(text, className) {
  const td = document.createElement("td");
  if (className !== undefined) td.className = className;
  if (text instanceof Node) td.append(text);
  else td.textContent = text;
  return td;
}

function render(doc) {
  const shown = doc.count > doc.artists.length
    ? `top ${numbers.format(doc.artists.length)} of ${numbers.format(doc.count)} artists`
    : `${numbers.format(doc.count)} artists`;
  $("subtitle").textContent = `${shown} · ${WINDOWS[doc.window]}`;
  const rows = doc.artists.map((entry, i) => {
    const tr = document.createElement("tr");
    tr.dataset.artist = entry.artist;
    const link = document.createElement("a");
    link.href = `/?${new URLSearchParams({ artist: entry.artist, window: doc.window })}`;
    link.textContent = prettyArtist(entry.artist);
    tr.append(
      cell(String(i + 1), "num rank"),
      cell(link, "artist"),
      cell(numbers.format(entry.total), "num total"),
      cell(entry.top === null ? "–" : entry.top.song_name, "song"),
      cell(entry.top === null ? "" : numbers.format(entry.top.plays), "num"),
    );
    return tr;
  });
  $("artists").replaceChildren(...rows);
  $("empty").hidden = rows.length > 0;
  $("updated").textContent = `updated ${new Date(doc.updated_at).toLocaleTimeString()}`;
}

function setConnection(state, text) {
  $("connection").dataset.state = state;
  $("connection-text").textContent = text;
}

let timer = 0;
let asked = 0;
async function refresh() {
  clearTimeout(timer);
  const mine = ++asked;
  try {
    const query = new URLSearchParams({ window: windowName, limit: String(SHOWN) });
    const response = await fetch(`/api/overview?${query}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const doc = await response.json();
    if (mine !== asked) return;
    render(doc);
    setConnection("live", "Live");
  } catch {
    if (mine === asked) setConnection("reconnecting", "Reconnecting…");
  } finally {
    if (mine === asked) timer = setTimeout(refresh, REFRESH_MS);
  }
}

function showWindow() {
  for (const button of document.querySelectorAll("[data-window]")) {
    button.setAttribute("aria-pressed", String(button.dataset.window === windowName));
  }
  history.replaceState(null, "", `?${new URLSearchParams({ window: windowName })}`);
}

for (const button of document.querySelectorAll("[data-window]")) {
  button.addEventListener("click", () => {
    windowName = button.dataset.window;
    showWindow();
    refresh();
  });
}

showWindow();
refresh();
