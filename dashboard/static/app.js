// EpochDB dashboard: plain JavaScript, no library, no network beyond this
// server. Figures arrive over Server-Sent Events (/api/events); the rest
// of the API is documented in docs/DASHBOARD.md.
"use strict";

const $ = (s) => document.querySelector(s);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const SVG = "http://www.w3.org/2000/svg";
const svgEl = (tag, attrs = {}) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};

let session = { password_set: false, signed_in: false, can_act: false, csrf: "" };
let skew = 0; // server clock minus this browser's, ms
const HISTORY = 300;
let figures = [];

// --- formatting -------------------------------------------------------
function fmtNum(n, digits = 1) {
  if (n == null || Number.isNaN(n)) return "–";
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(digits) + "G";
  if (a >= 1e6) return (n / 1e6).toFixed(digits) + "M";
  if (a >= 1e4) return (n / 1e3).toFixed(digits) + "k";
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(a < 10 ? 2 : digits);
}
function fmtBytes(n) {
  if (n == null) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function fmtDur(ms) {
  if (ms == null || ms < 0) return "–";
  const s = ms / 1000;
  if (s < 1) return Math.round(ms) + "ms";
  if (s < 60) return s.toFixed(1) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d" + Math.floor((s % 86400) / 3600) + "h";
}
const fmtUs = (us) => (us == null ? "–" : us >= 1000 ? (us / 1000).toFixed(us >= 10000 ? 0 : 1) + "ms" : us + "µs");
const serverNow = () => Date.now() + skew;

// --- API --------------------------------------------------------------
class APIError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}
async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", credentials: "same-origin", headers: {} };
  if (opts.body !== undefined) {
    init.body = JSON.stringify(opts.body);
    init.headers["Content-Type"] = "application/json";
  }
  if (init.method !== "GET" && session.csrf) init.headers["X-CSRF-Token"] = session.csrf;
  const r = await fetch(path, init);
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) {
    if (r.status === 401 && path !== "/api/login") showSignIn();
    throw new APIError(r.status, (data && data.error) || r.statusText);
  }
  return data;
}

// --- charts -----------------------------------------------------------
// Each live chart: a title, the current value, and lines over the last
// HISTORY seconds, drawn as SVG polylines scaled to the largest value (or
// the budget, drawn dashed, when there is one).
const CHARTS = [
  { id: "ops", title: "Operations / s", fmt: fmtNum, lines: [
    ["commands", (f) => f.ops.commands], ["get", (f) => f.ops.get], ["set", (f) => f.ops.set],
    ["delete", (f) => f.ops.delete], ["commit", (f) => f.ops.commit]] },
  { id: "families", title: "Commands / s by family", fmt: fmtNum, lines: [
    ["string", (f) => fam(f, "string")], ["keys", (f) => fam(f, "generic")], ["bitmap", (f) => fam(f, "bitmap")],
    ["transactions", (f) => fam(f, "transactions")], ["pub/sub", (f) => fam(f, "pubsub")],
    ["epochdb", (f) => fam(f, "epochdb")], ["server", (f) => (fam(f, "server") ?? 0) + (fam(f, "connection") ?? 0) + (fam(f, "cluster") ?? 0)]] },
  { id: "latency", title: "Latency (library ops)", fmt: fmtUs, lines: [
    ["p50", (f) => f.latency_p50_us], ["p99", (f) => f.latency_p99_us]] },
  { id: "hits", title: "GET hit ratio", fmt: (v) => (v == null ? "–" : (v * 100).toFixed(1) + "%"), min1: true, lines: [
    ["hit ratio", (f) => f.hit_ratio]] },
  { id: "keys", title: "Keys", fmt: fmtNum, budget: (f) => f.maxkeys, lines: [
    ["keys", (f) => f.keys], ["with TTL", (f) => f.keys_with_ttl]] },
  { id: "bytes", title: "Live bytes", fmt: fmtBytes, budget: (f) => f.maxdisk, lines: [
    ["live", (f) => f.live_bytes], ["disk", (f) => f.disk_bytes]] },
  { id: "retired", title: "Retired / s", fmt: fmtNum, lines: [
    ["expired", (f) => f.expired_per_sec], ["evicted", (f) => f.evicted_per_sec], ["pruned", (f) => f.pruned_per_sec]] },
  { id: "wal", title: "WAL syncs / s", fmt: fmtNum, lines: [
    ["syncs", (f) => f.wal_syncs_per_sec]] },
  { id: "walLag", title: "WAL sync lag (ms)", fmt: fmtNum, lines: [
    ["oldest unsynced write", (f) => f.wal_sync_lag_ms]] },
  { id: "clients", title: "Clients", fmt: fmtNum, lines: [["connected", (f) => f.clients]] },
  { id: "memory", title: "Memory", fmt: fmtBytes, budget: (f) => f.maxmemory, budgetHidden: true, lines: [
    ["resident", (f) => f.memory_bytes], ["Go heap", (f) => f.heap_bytes]] },
];
const COLORS = ["var(--c1)", "var(--c2)", "var(--c3)", "var(--c4)", "var(--c5)"];

function buildCharts() {
  const box = $("#charts");
  for (const c of CHARTS) {
    const svg = svgEl("svg", { class: "chart", viewBox: "0 0 300 70", preserveAspectRatio: "none", "data-points": "0" });
    c.svg = svg;
    c.value = el("div", { class: "value", id: "value-" + c.id, text: "–" });
    c.extra = el("div", { class: "muted small" });
    const legend = el("div", { class: "legend" });
    c.lines.forEach(([name], i) => {
      const sw = el("i");
      sw.style.background = COLORS[i];
      legend.append(el("span", {}, sw, name));
    });
    box.append(el("div", { class: "card", id: "chart-" + c.id }, el("h3", { text: c.title }), c.value, svg, legend, c.extra));
  }
}

function drawCharts() {
  const last = figures[figures.length - 1];
  if (!last) return;
  for (const c of CHARTS) {
    const series = c.lines.map(([, get]) => figures.map(get));
    const budget = c.budget ? c.budget(last) : 0;
    let max = 0;
    for (const s of series) for (const v of s) if (v != null && v > max) max = v;
    if (budget > 0 && !c.budgetHidden) max = Math.max(max, budget);
    if (c.min1) max = 1;
    if (max <= 0) max = 1;
    c.svg.replaceChildren();
    const x = (i) => ((i + HISTORY - figures.length) / (HISTORY - 1)) * 300;
    const y = (v) => 68 - (v / max) * 64;
    series.forEach((s, i) => {
      let pts = [];
      const flush = () => {
        if (pts.length) c.svg.append(svgEl("polyline", { points: pts.join(" "), stroke: COLORS[i] }));
        pts = [];
      };
      s.forEach((v, j) => (v == null ? flush() : pts.push(x(j).toFixed(1) + "," + y(v).toFixed(1))));
      flush();
    });
    if (budget > 0 && !c.budgetHidden) c.svg.append(svgEl("line", { class: "budget", x1: 0, x2: 300, y1: y(budget), y2: y(budget) }));
    c.svg.setAttribute("data-points", String(figures.length));
    const cur = c.lines.map(([name, get]) => name + " " + c.fmt(get(last)));
    c.value.textContent = c.fmt(c.lines[0][1](last));
    c.extra.textContent = (c.lines.length > 1 ? cur.slice(1).join(" · ") : "") +
      (budget > 0 ? (c.lines.length > 1 ? " · " : "") + "budget " + c.fmt(budget) : "") + " · max " + c.fmt(max);
  }
  const tb = $("#databases tbody");
  tb.replaceChildren(...(last.databases || []).map((d) =>
    el("tr", {}, el("td", { text: d.db < 0 ? "other" : String(d.db) }), el("td", { text: fmtNum(d.keys) }), el("td", { text: fmtNum(d.keys_with_ttl) }))));
  $("#server-info").textContent = "v" + last.version + " · up " + fmtDur(last.uptime_seconds * 1000) + " · " +
    last.appendfsync + " · " + last.maxmemory_policy;
}

function addFigures(list) {
  for (const f of list) {
    if (figures.length && f.t <= figures[figures.length - 1].t) continue;
    figures.push(f);
    skew = f.t - Date.now();
  }
  if (figures.length > HISTORY) figures = figures.slice(figures.length - HISTORY);
  drawCharts();
}

// --- live stream ------------------------------------------------------
let source = null;
function connect() {
  if (source) source.close();
  source = new EventSource("/api/events");
  const conn = $("#conn");
  source.addEventListener("open", () => { conn.textContent = "live"; conn.className = "badge ok"; });
  source.addEventListener("error", () => {
    conn.textContent = "reconnecting…"; conn.className = "badge bad";
    if (source.readyState === EventSource.CLOSED) setTimeout(start, 3000);
  });
  source.addEventListener("history", (e) => {
    const h = JSON.parse(e.data);
    figures = [];
    addFigures(h.figures || []);
    $("#tail tbody").replaceChildren();
    for (const r of h.retired || []) addRetired(r);
  });
  source.addEventListener("figures", (e) => addFigures([JSON.parse(e.data)]));
  source.addEventListener("retired", (e) => addRetired(JSON.parse(e.data)));
}

function addRetired(r) {
  const tb = $("#tail tbody");
  const tr = el("tr", { "data-kind": r.kind },
    el("td", { text: new Date(r.retired_at).toLocaleTimeString() }), el("td", { text: r.kind }),
    el("td", { text: r.db < 0 ? "–" : String(r.db) }), el("td", { class: "key", text: r.key }),
    el("td", { text: String(r.frequency) }), el("td", { text: fmtDur(r.age_ms) }));
  tb.prepend(tr);
  while (tb.children.length > 100) tb.lastChild.remove();
}

// --- lifecycle views --------------------------------------------------
function drawHistogram(h, sampledNote) {
  const max = Math.max(1, ...h.buckets.map((b) => b.count));
  const w = 300 / h.buckets.length;
  const svg = svgEl("svg", { class: "hist", viewBox: "0 0 300 120" });
  h.buckets.forEach((b, i) => {
    const bh = (b.count / max) * 88;
    const r = svgEl("rect", { x: i * w + 2, y: 96 - bh, width: w - 4, height: bh });
    const title = svgEl("title");
    title.textContent = b.label + ": " + b.count;
    r.append(title);
    svg.append(r);
    const t1 = svgEl("text", { x: i * w + w / 2, y: 108, "text-anchor": "middle" });
    if (b.label.length * 5 > w - 2) { // squeeze a long label into its bar's width
      t1.setAttribute("textLength", String(w - 3));
      t1.setAttribute("lengthAdjust", "spacingAndGlyphs");
    }
    t1.textContent = b.label;
    const t2 = svgEl("text", { x: i * w + w / 2, y: 118, "text-anchor": "middle" });
    t2.textContent = fmtNum(b.count, 0);
    svg.append(t1, t2);
  });
  const names = { ttl: "Remaining TTL", age: "Age", frequency: "Frequency", heat: "Heat" };
  return el("div", { class: "card", id: "hist-" + h.name }, el("h3", { text: names[h.name] || h.name },
    el("span", { class: "muted small", text: sampledNote })), svg);
}

function keyRows(table, keys, cols) {
  const head = el("tr", {}, ...cols.map(([name]) => el("th", { text: name })));
  const rows = (keys || []).map((k) => el("tr", {}, ...cols.map(([, f, cls]) => {
    const td = el("td", cls ? { class: cls } : {});
    const v = f(k, td);
    if (v != null) td.textContent = v;
    return td;
  })));
  if (!rows.length) rows.push(el("tr", {}, el("td", { class: "muted", colspan: String(cols.length), text: "none" })));
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

// countdown makes td show the time left until the key's deadline.
function countdown(k, td) {
  if (!k.expires_at) return "none";
  td.setAttribute("data-expires", String(Date.parse(k.expires_at)));
  return fmtDur(Date.parse(k.expires_at) - serverNow());
}
setInterval(() => {
  for (const td of document.querySelectorAll("[data-expires]")) {
    const left = Number(td.getAttribute("data-expires")) - serverNow();
    td.textContent = left > 0 ? fmtDur(left) : "expired";
  }
}, 250);

async function loadLifecycle(fresh) {
  const db = $("#lc-db").value;
  try {
    const l = await api("/api/lifecycle?db=" + db + (fresh ? "&fresh=1" : ""));
    const s = l.stats;
    const note = " all databases, " + (s.sampled ? "sampled: " + fmtNum(s.scanned) + " of " + fmtNum(s.keys) + " keys" : "all " + fmtNum(s.scanned) + " keys");
    $("#histograms").replaceChildren(...s.histograms.map((h) => drawHistogram(h, note)));
    const base = [["key", (k) => k.key, "key"]];
    const sampled = (k) => (k.sampled ? " (sampled)" : "");
    keyRows($("#hot"), l.hot.keys, [...base, ["heat", (k) => fmtNum(k.heat)], ["freq", (k) => String(k.frequency)], ["TTL", countdown]]);
    keyRows($("#cold"), l.cold.keys, [...base, ["heat", (k) => fmtNum(k.heat)], ["freq", (k) => String(k.frequency)], ["age", (k) => fmtDur(k.age_ms)]]);
    keyRows($("#expiring"), l.expiring.keys, [...base, ["TTL", countdown], ["freq", (k) => String(k.frequency)]]);
    $("#hot").previousElementSibling.dataset.note = sampled(l.hot);
    const p = l.preview;
    $("#preview-totals").textContent = "prune " + p.prune_total + " · evict " + p.evict_total + " (exact)";
    const rows = [...p.prune.map((k) => ({ ...k, why: "prune" })), ...p.evict.map((k) => ({ ...k, why: "evict" }))];
    keyRows($("#preview"), rows, [["", (k) => k.why], ["db", (k) => (k.db < 0 ? "–" : String(k.db))], ["key", (k) => k.key, "key"], ["freq", (k) => String(k.frequency)], ["heat", (k) => fmtNum(k.heat)]]);
    $("#lc-note").textContent = "as of " + new Date(l.at).toLocaleTimeString() + (l.hot.sampled ? " · key lists sampled" : "");
  } catch (e) {
    $("#lc-note").textContent = "lifecycle views: " + e.message;
  }
}

// --- key explorer -----------------------------------------------------
let scan = { db: 0, pattern: "*", cursor: "0" };
async function search(more) {
  if (!more) {
    scan = { db: Number($("#ex-db").value), pattern: $("#pattern").value || "*", cursor: "0" };
    $("#results tbody").replaceChildren();
  }
  const note = $("#ex-note");
  try {
    let got = 0;
    // SCAN may return few or no keys per step: take steps until a page is
    // full or the iteration ends.
    do {
      const p = await api("/api/keys?db=" + scan.db + "&pattern=" + encodeURIComponent(scan.pattern) + "&cursor=" + scan.cursor + "&count=50");
      scan.cursor = p.cursor;
      for (const k of p.keys) { addResult(k); got++; }
    } while (got < 50 && scan.cursor !== "0");
    const n = $("#results tbody").children.length;
    note.textContent = n + " keys" + (scan.cursor === "0" ? " (all)" : "");
    $("#more").hidden = scan.cursor === "0";
  } catch (e) {
    note.textContent = e.message;
    note.className = "error small";
  }
}
function addResult(k) {
  const tr = el("tr", { "data-key": k.key },
    el("td", { class: "key", text: k.key }), el("td", { text: fmtBytes(k.value_bytes) }),
    el("td", { text: String(k.frequency) }), el("td", { text: fmtNum(k.heat) }));
  const ttl = el("td");
  ttl.textContent = countdown(k, ttl);
  tr.append(ttl);
  tr.addEventListener("click", () => {
    for (const r of document.querySelectorAll("#results tr.sel")) r.classList.remove("sel");
    tr.classList.add("sel");
    showKey(scan.db, k.key);
  });
  $("#results tbody").append(tr);
}

function decodeBase64(s) {
  const bin = atob(s);
  const b = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return b;
}
// preview shows bytes as text when they are printable UTF-8, else as a
// hex dump.
function preview(bytes) {
  try {
    const s = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    if (!/[\u0000-\u0008\u000e-\u001f\u007f]/.test(s)) return s;
  } catch (_) { /* not UTF-8 */ }
  const lines = [];
  for (let i = 0; i < Math.min(bytes.length, 1024); i += 16) {
    const row = bytes.slice(i, i + 16);
    const hex = Array.from(row, (x) => x.toString(16).padStart(2, "0")).join(" ");
    const asc = Array.from(row, (x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : ".")).join("");
    lines.push(i.toString(16).padStart(6, "0") + "  " + hex.padEnd(48) + "  " + asc);
  }
  return lines.join("\n");
}

let current = null;
async function showKey(db, key) {
  const d = $("#detail");
  d.hidden = false;
  $("#detail-msg").textContent = "";
  $("#detail-key").textContent = key;
  try {
    const k = await api("/api/key?db=" + db + "&key=" + encodeURIComponent(key));
    current = { db, key };
    const meta = [["database", String(db)], ["size", fmtBytes(k.value_bytes)], ["frequency", String(k.frequency)],
      ["heat", fmtNum(k.heat, 3)], ["created", new Date(k.created_at).toLocaleString()],
      ["updated", new Date(k.updated_at).toLocaleString()], ["last access", new Date(k.last_access).toLocaleString()],
      ["expires", k.expires_at ? new Date(k.expires_at).toLocaleString() : "never"]];
    const dl = $("#detail-meta");
    dl.replaceChildren();
    for (const [n, v] of meta) dl.append(el("dt", { text: n }), el("dd", { text: v }));
    const ttl = el("dd");
    ttl.id = "detail-ttl";
    ttl.textContent = countdown(k, ttl);
    dl.append(el("dt", { text: "TTL" }), ttl);
    const bytes = decodeBase64(k.value_base64 || "");
    $("#detail-value").textContent = preview(bytes);
    $("#detail-size").textContent = k.value_truncated ? "first " + fmtBytes(bytes.length) + " of " + fmtBytes(k.value_bytes) : fmtBytes(k.value_bytes);
    $("#delete").hidden = !session.can_act;
  } catch (e) {
    $("#detail-meta").replaceChildren();
    $("#detail-value").textContent = "";
    $("#detail-msg").textContent = e.status === 404 ? "the key is gone" : e.message;
    $("#detail-msg").className = "error small";
  }
}

// --- actions ----------------------------------------------------------
// fam is the rate of a command family in f, 0 when it ran nothing (null
// before the second reading).
function fam(f, name) {
  if (!f.families) return null;
  return f.families[name] ?? 0;
}

function say(sel, text, ok) {
  const m = $(sel);
  m.textContent = text;
  m.className = (ok ? "okmsg" : "error") + " small";
}
async function action(btn, sel, f) {
  btn.disabled = true;
  try { say(sel, await f(), true); } catch (e) { say(sel, e.message, false); } finally { btn.disabled = false; }
}
async function loadSettings() {
  const tb = $("#settings tbody");
  try {
    const list = await api("/api/config");
    tb.replaceChildren(...list.map((s) => {
      const input = el("input", { value: s.value, "aria-label": s.name, spellcheck: "false", "data-name": s.name });
      const btn = el("button", { class: "small act", text: "Set" });
      btn.addEventListener("click", () => action(btn, "#settings-msg", async () => {
        const r = await api("/api/config", { method: "POST", body: { name: s.name, value: input.value } });
        return r.name + " set to " + JSON.stringify(r.value);
      }));
      return el("tr", {}, el("td", { text: s.name }), el("td", {}, input), el("td", {}, btn));
    }));
  } catch (e) {
    say("#settings-msg", e.message, false);
  }
}

// --- session ----------------------------------------------------------
function showSignIn() {
  if (source) { source.close(); source = null; }
  $("#main").hidden = true;
  $("#signin").hidden = false;
  $("#password").focus();
}
function applySession() {
  document.body.classList.toggle("readonly", !session.can_act);
  $("#readonly-note").hidden = session.can_act;
  $("#mode").textContent = session.can_act ? "signed in" : session.password_set ? "signed out" : "read-only";
  $("#signout").hidden = !session.signed_in;
}
async function start() {
  try {
    session = await api("/api/session");
  } catch (e) {
    $("#conn").textContent = "offline";
    setTimeout(start, 3000);
    return;
  }
  applySession();
  if (session.password_set && !session.signed_in) { showSignIn(); return; }
  $("#signin").hidden = true;
  $("#main").hidden = false;
  connect();
  loadLifecycle(false);
  loadSettings();
  search(false);
}

function init() {
  buildCharts();
  for (const sel of ["#lc-db", "#ex-db"]) for (let i = 0; i < 16; i++) $(sel).append(el("option", { value: String(i), text: String(i) }));
  $("#signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      session = await api("/api/login", { method: "POST", body: { password: $("#password").value } });
      $("#password").value = "";
      $("#signin-error").textContent = "";
      start();
    } catch (err) {
      $("#signin-error").textContent = err.message;
    }
  });
  $("#signout").addEventListener("click", async () => {
    try { await api("/api/logout", { method: "POST" }); } catch (_) { /* signed out anyway */ }
    session = { password_set: true, signed_in: false, can_act: false, csrf: "" };
    applySession();
    showSignIn();
  });
  $("#lc-db").addEventListener("change", () => loadLifecycle(false));
  $("#lc-refresh").addEventListener("click", () => loadLifecycle(true));
  $("#search").addEventListener("submit", (e) => { e.preventDefault(); search(false); });
  $("#more").addEventListener("click", () => search(true));
  $("#backup").addEventListener("click", (e) => action(e.target, "#action-msg", async () => "backup written: " + (await api("/api/backup", { method: "POST" })).path));
  $("#prune").addEventListener("click", (e) => action(e.target, "#action-msg", async () => {
    const r = await api("/api/prune", { method: "POST" });
    loadLifecycle(true);
    return "pruned " + r.removed + " of " + r.examined + " keys examined";
  }));
  $("#delete").addEventListener("click", (e) => action(e.target, "#detail-msg", async () => {
    if (!current) throw new Error("no key selected");
    const r = await api("/api/delete", { method: "POST", body: { db: current.db, key: current.key } });
    for (const tr of document.querySelectorAll("#results tr.sel")) tr.remove();
    return r.deleted ? "deleted" : "the key was already gone";
  }));
  setInterval(() => { if (!$("#main").hidden && document.visibilityState === "visible") loadLifecycle(false); }, 10000);
  start();
}
document.addEventListener("DOMContentLoaded", init);
