// livecharts overview page: the most played artists in the window (the first
// SHOWN of them) and their number one, pushed by the server (Server-Sent
// Events) when they change: it keeps them up to date on each play and orders
// them at most once a second. Names are set with textContent, never as HTML.
"use strict";

const WINDOWS = {
  "5m": "last 5 minutes",
  "1h": "last hour",
  "24h": "last 24 hours",
  all: "all time",
};
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

let stream;
/** Follows the overview of the chosen window: the server pushes it when its artists change. */
function follow() {
  stream?.close();
  const query = new URLSearchParams({ window: windowName, limit: String(SHOWN) });
  stream = new EventSource(`/api/overview/stream?${query}`);
  stream.onmessage = (event) => {
    render(JSON.parse(event.data));
    setConnection("live", "Live");
  };
  // The browser reconnects by itself; the first document after that is complete.
  stream.onerror = () => setConnection("reconnecting", "Reconnecting…");
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
    follow();
  });
}

showWindow();
follow();
