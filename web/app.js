// livecharts dashboard page: follows /api/stream and draws the chart.
// Everything that comes from events (artist, song names) is set with
// textContent, never as HTML.
"use strict";

const WINDOWS = {
  "5m": "last 5 minutes",
  "1h": "last hour",
  "24h": "last 24 hours",
  all: "all time",
};
const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const numbers = new Intl.NumberFormat();
const rates = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

const $ = (id) => document.getElementById(id);
const els = {
  artist: $("artist"),
  bars: $("bars"),
  empty: $("empty"),
  title: $("title"),
  subtitle: $("subtitle"),
  total: $("total"),
  totalNote: $("total-note"),
  rate: $("rate"),
  last: $("last"),
  lastAgo: $("last-ago"),
  connection: $("connection"),
  connectionText: $("connection-text"),
  notice: $("notice"),
  updated: $("updated"),
  exportCsv: $("export-csv"),
  newest: $("newest"),
  table: $("chart-table"),
  tableRows: $("chart-rows"),
  tableCaption: $("chart-caption"),
  tableToggle: $("table-toggle"),
  lag: $("lag"),
  exportJson: $("export-json"),
};

const params = new URLSearchParams(location.search);
const view = {
  artist: SLUG.test(params.get("artist") ?? "") ? params.get("artist") : "tony-allen",
  window: Object.hasOwn(WINDOWS, params.get("window") ?? "") ? params.get("window") : "1h",
  limit: Math.min(100, Math.max(1, Number.parseInt(params.get("limit") ?? "10", 10) || 10)),
};

/** "tony-allen" → "Tony Allen". */
function prettyArtist(slug) {
  return slug.split("-").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(" ");
}

// ------------------------------------------------------------------ connection

let source;
let lastMessageAt = 0;

function setConnection(state) {
  els.connection.dataset.state = state;
  els.connectionText.textContent = {
    connecting: "Connecting…",
    starting: "Starting…",
    live: "Live",
    reconnecting: "Reconnecting…",
    "catching-up": "Catching up…",
    degraded: "Degraded",
  }[state] ?? "Degraded";
}

// The server's own account of what is wrong (BigQuery unreachable, Kafka
// reader down): the numbers may be incomplete or frozen while it shows.
function showProblems(problems) {
  const text = Array.isArray(problems) ? problems.join(" · ") : "";
  els.notice.textContent = text;
  els.notice.hidden = text === "";
}

function connect() {
  source?.close();
  const query = new URLSearchParams({ artist: view.artist, window: view.window });
  if (view.limit !== 10) query.set("limit", String(view.limit));
  els.exportCsv.href = `/api/top.csv?${query}`;
  els.exportJson.href = `/api/top.json?${query}`;
  const stream = new EventSource(`/api/stream?${query}`);
  source = stream;
  lastMessageAt = Date.now();
  stream.onmessage = (message) => {
    if (stream !== source) return;
    lastMessageAt = Date.now();
    const doc = JSON.parse(message.data);
    const problems = Array.isArray(doc.problems) ? doc.problems : [];
    setConnection(problems.length > 0 ? "degraded" : doc.state);
    showProblems(problems);
    render(doc);
  };
  stream.addEventListener("ping", () => (lastMessageAt = Date.now()));
  stream.onerror = () => {
    if (stream !== source) return;
    setConnection("reconnecting");
    if (stream.readyState === EventSource.CLOSED) {
      setTimeout(() => stream === source && connect(), 2000);
    }
  };
}

// A stream that went silent (no data, no ping) is reopened.
setInterval(() => {
  if (Date.now() - lastMessageAt > 40_000) {
    setConnection("reconnecting");
    connect();
  }
}, 5_000);

// ------------------------------------------------------------------ rendering

const rows = new Map(); // song_id → { el, plays }
let lastEventAt = null;
let shownTotal = 0;
let totalAnimation = 0;

function animateTotal(target) {
  cancelAnimationFrame(totalAnimation);
  const from = shownTotal;
  const start = performance.now();
  const step = (now) => {
    const t = Math.min(1, (now - start) / 450);
    const eased = 1 - (1 - t) ** 3;
    shownTotal = Math.round(from + (target - from) * eased);
    els.total.textContent = numbers.format(shownTotal);
    if (t < 1) totalAnimation = requestAnimationFrame(step);
  };
  if (from === target || document.hidden) {
    shownTotal = target;
    els.total.textContent = numbers.format(target);
  } else {
    totalAnimation = requestAnimationFrame(step);
  }
}

const SVG = "http://www.w3.org/2000/svg";
const SPARK_W = 100;
const SPARK_H = 28;

function makeRow(song) {
  const el = document.createElement("li");
  el.className = "row";
  el.dataset.song = String(song.song_id);
  for (const part of ["rank", "change", "name", "spark", "track", "plays"]) {
    const child = document.createElement("span");
    child.className = part;
    el.append(child);
  }
  const fill = document.createElement("span");
  fill.className = "fill";
  el.querySelector(".track").append(fill);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${SPARK_W} ${SPARK_H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const area = document.createElementNS(SVG, "polygon");
  area.setAttribute("class", "spark-area");
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("class", "spark-line");
  svg.append(area, line);
  el.querySelector(".spark").append(svg);
  return el;
}

/** Draws `series` (plays per point) as a sparkline scaled to its own peak. */
function drawSpark(row, series) {
  const spark = row.querySelector(".spark");
  const values = Array.isArray(series) ? series : [];
  spark.hidden = values.length === 0;
  spark.dataset.series = values.join(",");
  if (values.length === 0) return;
  const peak = Math.max(1, ...values);
  const step = values.length > 1 ? SPARK_W / (values.length - 1) : 0;
  const points = values.map((value, i) => {
    const x = Math.round(i * step * 10) / 10;
    const y = Math.round((SPARK_H - 2 - (value / peak) * (SPARK_H - 4)) * 10) / 10;
    return `${x},${y}`;
  });
  if (values.length === 1) points.push(`${SPARK_W},${points[0].split(",")[1]}`);
  row.querySelector(".spark-line").setAttribute("points", points.join(" "));
  row.querySelector(".spark-area").setAttribute(
    "points",
    `0,${SPARK_H} ${points.join(" ")} ${SPARK_W},${SPARK_H}`,
  );
}

const TREND_W = 600;
const TREND_H = 120;
const TREND_SONGS = 3;

/** Points of `values` scaled to the trend chart, `peak` at the top. */
function trendPoints(values, peak) {
  const step = values.length > 1 ? TREND_W / (values.length - 1) : TREND_W;
  return values.map((value, i) =>
    `${Math.round(i * step * 10) / 10},${
      Math.round((TREND_H - 2 - (value / peak) * (TREND_H - 8)) * 10) / 10
    }`
  );
}

/** The artist's plays over the window: all songs as an area, the top songs as lines. */
function drawTrend(doc) {
  const trend = $("trend");
  const series = doc.series;
  trend.hidden = series === null || doc.songs.length === 0;
  if (trend.hidden) return;
  const peak = Math.max(1, ...series.total);
  const svg = $("trend-svg");
  const shapes = [];
  const area = document.createElementNS(SVG, "polygon");
  area.setAttribute("class", "trend-total");
  const total = trendPoints(series.total, peak);
  area.setAttribute("points", `0,${TREND_H} ${total.join(" ")} ${TREND_W},${TREND_H}`);
  shapes.push(area);
  const legend = [];
  const item = (className, text) => {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch ${className}`;
    const label = document.createElement("span");
    label.textContent = text;
    li.append(swatch, label);
    return li;
  };
  legend.push(item("trend-total", `All songs (${numbers.format(doc.total)})`));
  doc.songs.slice(0, TREND_SONGS).forEach((song, i) => {
    if (!Array.isArray(song.series)) return;
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("class", `trend-line trend-song-${i}`);
    line.setAttribute("points", trendPoints(song.series, peak).join(" "));
    line.dataset.song = String(song.song_id);
    shapes.push(line);
    legend.push(item(`trend-song-${i}`, song.song_name));
  });
  svg.replaceChildren(...shapes);
  $("trend-legend").replaceChildren(...legend);
  // Time axis in the viewer's local time.
  const from = new Date(series.from).getTime();
  const end = from + (series.points - 1) * series.point_ms;
  const long = end - from > 20 * 3_600_000;
  const at = (time) =>
    new Date(time).toLocaleTimeString([], {
      hour: "2-digit",
      minute: "2-digit",
      ...(long || doc.window === "1h" ? {} : { second: "2-digit" }),
    });
  $("trend-start").textContent = at(Math.max(from, new Date(doc.from).getTime()));
  $("trend-middle").textContent = at((from + end) / 2);
  $("trend-end").textContent = at(end);
  $("trend-caption").textContent = `Plays over the ${WINDOWS[doc.window]}, per ${
    series.point_ms % 60_000 === 0
      ? `${series.point_ms / 60_000} min`
      : `${Math.round(series.point_ms / 1000)} s`
  }, local time`;
}

/** The change as words for the table, e.g. "up 2", "new". */
function changeText(change) {
  if (change === "new") return "new";
  if (typeof change !== "number") return "not known";
  return change > 0 ? `up ${change}` : change < 0 ? `down ${-change}` : "same";
}

/** The chart's text equivalent: one table row per song, names as text. */
function renderTable(doc) {
  els.tableCaption.textContent = `Top ${view.limit} songs of ${prettyArtist(doc.artist)}, ${
    WINDOWS[doc.window]
  }: ${numbers.format(doc.total)} plays in all`;
  els.tableRows.replaceChildren(...doc.songs.map((song, i) => {
    const tr = document.createElement("tr");
    for (
      const [text, className] of [
        [String(i + 1), "num"],
        [song.song_name, ""],
        [numbers.format(song.plays), "num"],
        [changeText(song.rank_change), ""],
      ]
    ) {
      const td = document.createElement("td");
      td.textContent = text;
      if (className !== "") td.className = className;
      tr.append(td);
    }
    return tr;
  }));
}

/** Shows a rank change: ▲2 (up two places), ▼1, NEW, – (same), nothing when unknown. */
function showChange(row, change) {
  const el = row.querySelector(".change");
  let text = "";
  let label = "";
  let direction = "none";
  if (change === "new") {
    [text, label, direction] = ["NEW", "new in the chart", "new"];
  } else if (typeof change === "number" && change > 0) {
    [text, label, direction] = [`▲${change}`, `up ${change}`, "up"];
  } else if (typeof change === "number" && change < 0) {
    [text, label, direction] = [`▼${-change}`, `down ${-change}`, "down"];
  } else if (change === 0) {
    [text, label, direction] = ["–", "same place", "same"];
  }
  el.textContent = text;
  el.dataset.direction = direction;
  if (label === "") el.removeAttribute("aria-label");
  else el.setAttribute("aria-label", `${label} since the period before`);
  el.title = label === "" ? "" : `${label} since the period before`;
}

function render(doc) {
  const artistName = prettyArtist(doc.artist);
  els.title.textContent = artistName;
  document.title = `${artistName} · livecharts`;
  els.subtitle.textContent = `Top ${view.limit} songs · ${WINDOWS[doc.window]}`;
  els.totalNote.textContent = WINDOWS[doc.window];
  animateTotal(doc.total);
  els.rate.textContent = rates.format(doc.plays_per_second);
  lastEventAt = doc.last_event_at === null ? null : new Date(doc.last_event_at);
  els.last.textContent = lastEventAt === null
    ? "–"
    : lastEventAt.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  tickAgo();
  // Freshness: the newest play counted (any artist) and what Kafka still holds.
  const newest = doc.newest_event_at === null ? null : new Date(doc.newest_event_at);
  els.newest.textContent = newest === null
    ? "–"
    : newest.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  els.newest.dataset.at = doc.newest_event_at ?? "";
  els.lag.textContent = typeof doc.kafka_lag === "number"
    ? `Kafka lag: ${numbers.format(doc.kafka_lag)} ${doc.kafka_lag === 1 ? "message" : "messages"}`
    : "Kafka lag: not known yet";
  els.lag.dataset.lag = String(doc.kafka_lag ?? "");
  els.updated.textContent = `updated ${new Date(doc.updated_at).toLocaleTimeString()}`;

  const max = Math.max(1, ...doc.songs.map((song) => song.plays));
  const present = new Set();
  doc.songs.forEach((song, i) => {
    present.add(song.song_id);
    let row = rows.get(song.song_id);
    if (row === undefined || row.el.classList.contains("leaving")) {
      row?.el.remove();
      row = { el: makeRow(song), plays: song.plays };
      rows.set(song.song_id, row);
      els.bars.append(row.el);
    } else if (song.plays > row.plays) {
      row.el.classList.remove("bump");
      void row.el.offsetWidth; // restart the animation
      row.el.classList.add("bump");
    }
    row.plays = song.plays;
    row.el.style.setProperty("--i", String(i));
    row.el.classList.toggle("top", i === 0);
    row.el.querySelector(".rank").textContent = String(i + 1);
    const name = row.el.querySelector(".name");
    name.textContent = song.song_name;
    name.title = song.song_name;
    row.el.querySelector(".plays").textContent = numbers.format(song.plays);
    showChange(row.el, song.rank_change ?? null);
    drawSpark(row.el, song.series);
    const fill = row.el.querySelector(".fill");
    fill.style.width = `${(song.plays / max) * 100}%`;
    fill.style.setProperty("--share", String(song.plays / max));
  });
  for (const [id, row] of rows) {
    if (present.has(id) || row.el.classList.contains("leaving")) continue;
    row.el.classList.add("leaving");
    setTimeout(() => {
      if (rows.get(id) === row) rows.delete(id);
      row.el.remove();
    }, 450);
  }
  renderTable(doc);
  drawTrend(doc);
  // The list makes room at once when it grows, so that nothing below it covers
  // a new row, and closes up slowly when it shrinks (its leaving rows fade out).
  const shown = Math.max(1, doc.songs.length);
  const before = Number(els.bars.style.getPropertyValue("--rows") || "1");
  els.bars.classList.toggle("growing", shown > before);
  els.bars.style.setProperty("--rows", String(shown));
  els.empty.hidden = doc.songs.length > 0;
  els.empty.textContent = doc.window === "all"
    ? `No plays for ${artistName} yet.`
    : `No plays for ${artistName} in the ${WINDOWS[doc.window]}.`;
}

function clearRows() {
  for (const row of rows.values()) row.el.remove();
  rows.clear();
  shownTotal = 0;
}

function tickAgo() {
  if (lastEventAt === null) {
    els.lastAgo.textContent = "no plays yet";
    return;
  }
  const seconds = Math.round((Date.now() - lastEventAt.getTime()) / 1000);
  els.lastAgo.textContent = seconds < 2
    ? "just now"
    : seconds < 90
    ? `${seconds} s ago`
    : seconds < 5400
    ? `${Math.round(seconds / 60)} min ago`
    : seconds < 129600
    ? `${Math.round(seconds / 3600)} h ago`
    : lastEventAt.toLocaleDateString();
}
setInterval(tickAgo, 1000);

// ------------------------------------------------------------------ controls

function updateUrl() {
  const query = new URLSearchParams({ artist: view.artist, window: view.window });
  if (view.limit !== 10) query.set("limit", String(view.limit));
  history.replaceState(null, "", `?${query}`);
  $("overview-link").href = `/overview?${new URLSearchParams({ window: view.window })}`;
}

function showWindow() {
  for (const button of document.querySelectorAll("[data-window]")) {
    button.setAttribute("aria-pressed", String(button.dataset.window === view.window));
  }
}

for (const button of document.querySelectorAll("[data-window]")) {
  button.addEventListener("click", () => {
    if (view.window === button.dataset.window) return;
    view.window = button.dataset.window;
    showWindow();
    updateUrl();
    connect();
  });
}

els.tableToggle.addEventListener("click", () => {
  const shown = els.tableToggle.getAttribute("aria-pressed") !== "true";
  els.tableToggle.setAttribute("aria-pressed", String(shown));
  els.tableToggle.textContent = shown ? "Show as chart" : "Show as table";
  els.table.classList.toggle("visually-hidden", !shown);
  els.bars.hidden = shown;
});

els.artist.addEventListener("change", () => {
  view.artist = els.artist.value;
  updateUrl();
  clearRows();
  connect();
});

let artistsKey = "";
async function loadArtists() {
  try {
    // The most played artists of all time (a catalog may hold 100,000).
    const response = await fetch("/api/artists?limit=200");
    const { artists } = await response.json();
    const slugs = artists.map((entry) => entry.artist);
    if (!slugs.includes(view.artist)) slugs.push(view.artist);
    slugs.sort((a, b) => prettyArtist(a).localeCompare(prettyArtist(b)));
    const key = slugs.join(",");
    if (key === artistsKey) return;
    artistsKey = key;
    els.artist.replaceChildren(...slugs.map((slug) => {
      const option = document.createElement("option");
      option.value = slug;
      option.textContent = prettyArtist(slug);
      return option;
    }));
    els.artist.value = view.artist;
  } catch {
    // The stream's state already says when the server is away.
  }
}

showWindow();
updateUrl();
loadArtists();
setInterval(loadArtists, 10_000);
connect();
