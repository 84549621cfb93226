// Task Observatory web mirror: reads the read model from the browser (fetch + EventSource) and submits
// jobs through its own server (/gateway/jobs). Untrusted text is only ever set as textContent.
"use strict";

const STATUSES = ["PENDING", "EXECUTING", "COMPLETED", "FAILED", "DEAD_LETTERED"];
const SAMPLES = {
  echo: { message: "hello from the observatory" },
  sleep: { seconds: 2 },
  hash: { data: "observatory", rounds: 1000, algorithm: "sha256" },
  wordcount: { text: "the quick brown fox jumps over the lazy dog" },
  fail: { message: "failing on purpose", retryable: false },
  flaky: { failureRate: 0.5 },
};
const UIS = [
  ["Web mirror", 8081, "/"], ["Gateway API", 3000, "/openapi.json"], ["Read model API", 8080, "/openapi.json"],
  ["RabbitMQ management", 15672, "/"], ["Prometheus", 9090, "/"], ["Alertmanager", 9093, "/"], ["Grafana", 3002, "/"],
];
const MAX_ROWS = 500;
const ALERTS_EVERY_MS = 15000;

const state = { config: null, jobs: [], cursor: null, filter: { status: "", type: "", q: "" }, openJob: null, source: null };
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

const shortId = (id) => (id || "").slice(0, 8);
function clock(iso, precise = false) {
  if (!iso) return "—";
  const when = new Date(iso);
  const text = when.toLocaleTimeString([], { hour12: false });
  return precise ? `${text}.${String(when.getMilliseconds()).padStart(3, "0")}` : text;
}
function millis(v) {
  if (typeof v !== "number") return "—";
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 1000) return v < 100 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}

// -- connection state ------------------------------------------------------------------------------------

function setLive(live, detail) {
  const badge = $("live");
  badge.textContent = live ? "● live" : "● offline";
  badge.className = `badge ${live ? "badge-live" : "badge-down"}`;
  const banner = $("banner");
  banner.hidden = live;
  if (!live) banner.textContent = detail;
}

function unreachable() {
  return `read model unreachable at ${state.config.readModel} — start it with \`observatory up\`; retrying by itself`;
}

async function read(path, params) {
  const url = new URL(state.config.readModel + path);
  for (const [k, v] of Object.entries(params || {})) if (v) url.searchParams.set(k, v);
  let response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch (err) {
    setLive(false, unreachable());
    throw err;
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && (body.detail || body.title);
    throw new Error(`HTTP ${response.status}${detail ? `: ${detail}` : ""}`);
  }
  return body;
}

// -- stats ------------------------------------------------------------------------------------------------

function showStats(stats) {
  const totals = stats.totals || {};
  $("total-total").textContent = totals.total ?? 0;
  for (const s of STATUSES) $(`total-${s}`).textContent = totals[s] ?? 0;
  const perSecond = (stats.throughput && stats.throughput.perSecond) || [];
  drawSparkline(perSecond);
  const sum = perSecond.reduce((a, b) => a + b, 0);
  $("throughput-caption").textContent = `${sum} events in the last ${perSecond.length || 60}s · peak ${Math.max(0, ...perSecond)}/s`;
  const lat = stats.latencyMs || {};
  $("latency").textContent = `latency p50 ${millis(lat.p50)} · p95 ${millis(lat.p95)} · p99 ${millis(lat.p99)} · dead letters ${stats.deadLetters ?? 0} · last event ${clock(stats.lastEventTime)}`;
  $("updated").textContent = `Updated ${new Date().toLocaleTimeString([], { hour12: false })}.`;
}

function drawSparkline(values) {
  const svg = $("sparkline");
  svg.replaceChildren();
  const peak = Math.max(1, ...values);
  const width = 600 / Math.max(values.length, 1);
  values.forEach((v, i) => {
    const h = Math.max(1, (v / peak) * 58);
    const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    bar.setAttribute("x", String(i * width));
    bar.setAttribute("y", String(60 - h));
    bar.setAttribute("width", String(Math.max(1, width - 1)));
    bar.setAttribute("height", String(h));
    bar.setAttribute("class", v ? "bar" : "bar zero");
    svg.append(bar);
  });
}

// -- jobs -------------------------------------------------------------------------------------------------

function matches(job) {
  const f = state.filter;
  if (f.status && job.status !== f.status) return false;
  if (f.type && job.type !== f.type) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    return (job.id || "").toLowerCase().includes(q) || (job.type || "").toLowerCase().includes(q);
  }
  return true;
}

const order = (a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1);

function upsert(job) {
  state.jobs = state.jobs.filter((j) => j.id !== job.id);
  if (matches(job)) state.jobs.push(job);
  state.jobs.sort(order);
  state.jobs = state.jobs.slice(0, MAX_ROWS);
  renderJobs();
  if (state.openJob === job.id) openJob(job.id);
}

function renderJobs() {
  const rows = state.jobs.map((job) =>
    el("tr", { dataset: { id: job.id }, class: state.openJob === job.id ? "selected" : "", onclick: () => openJob(job.id) },
      el("td", { class: "mono" }, shortId(job.id)), el("td", {}, job.type),
      el("td", {}, el("span", { class: `status s-${job.status}` }, job.status)),
      el("td", {}, job.generation), el("td", {}, job.attempts), el("td", {}, clock(job.createdAt)),
      el("td", {}, millis(job.durationMs)), el("td", { class: "err" }, job.errorCode || "")));
  $("jobs-body").replaceChildren(...rows);
  const f = state.filter;
  const desc = [f.status && `status=${f.status}`, f.type && `type=${f.type}`, f.q && `search "${f.q}"`].filter(Boolean).join(" ") || "all jobs";
  $("jobs-caption").textContent = `${desc} — ${state.jobs.length} shown`;
  $("more").hidden = !state.cursor;
}

async function loadJobs(append = false) {
  const f = state.filter;
  try {
    const page = await read("/jobs", { status: f.status, type: f.type, q: f.q, cursor: append ? state.cursor : "", limit: "50" });
    state.jobs = append ? state.jobs.concat(page.items) : page.items;
    state.cursor = page.nextCursor;
    renderJobs();
  } catch (err) {
    $("jobs-caption").textContent = `could not load jobs: ${err.message}`;
  }
}

function readFilters() {
  const q = $("search").value.trim();
  $("filter-hint").textContent = q && q.length < 3 ? "type at least 3 characters to search" : "";
  state.filter = { status: $("status-filter").value, type: $("type-filter").value, q: q.length >= 3 ? q : "" };
  loadJobs();
}

// -- job detail -------------------------------------------------------------------------------------------

async function openJob(id) {
  state.openJob = id;
  $("detail").hidden = false;
  $("detail-id").textContent = id;
  for (const row of document.querySelectorAll("#jobs-body tr")) row.classList.toggle("selected", row.dataset.id === id);
  let timeline;
  try {
    timeline = await read(`/jobs/${id}/timeline`);
  } catch (err) {
    $("verdict").textContent = `could not load the timeline: ${err.message}`;
    return;
  }
  if (state.openJob !== id) return;
  const v = timeline.verdict || {};
  $("detail-summary").textContent = `status ${timeline.status ?? "unknown"} · generation ${timeline.generation ?? "–"} · ${timeline.entries.length} entries across the stores`;
  const verdict = $("verdict");
  verdict.textContent = `${v.consistent ? "✓ consistent" : "✗ inconsistent"}: ${v.summary || ""}`;
  verdict.className = v.consistent ? "ok" : "bad";
  $("findings").replaceChildren(...(v.findings || []).map((f) => el("li", { class: `finding ${f.severity}` }, `${f.severity}: ${f.message}`)));
  $("timeline-body").replaceChildren(...timeline.entries.map((e) =>
    el("tr", {}, el("td", {}, clock(e.time, true)), el("td", {}, el("span", { class: `store ${e.store}` }, e.store)),
      el("td", {}, String(e.what).replace("dev.observatory.", "")),
      el("td", { class: "mono small" }, e.detail ? JSON.stringify(e.detail.data ?? e.detail).slice(0, 120) : ""))));
}

// -- alerts and dead letters ------------------------------------------------------------------------------

async function loadAlerts() {
  try {
    const doc = await read("/alerts");
    const alerts = doc.alerts || [];
    $("alert-count").textContent = `(${alerts.length})`;
    const items = alerts.map((a) => el("li", { class: `alert ${a.severity}` }, el("b", {}, a.name || "unnamed"),
      ` [${a.severity || "-"}] since ${clock(a.startsAt)}`, a.summary ? el("div", { class: "muted" }, a.summary) : ""));
    if (!items.length) items.push(el("li", { class: doc.error ? "warn" : "muted" }, doc.error ? `⚠ ${doc.error}` : doc.note || "✓ no active alerts"));
    $("alerts").replaceChildren(...items);
  } catch (err) {
    $("alerts").replaceChildren(el("li", { class: "warn" }, `⚠ could not read /alerts: ${err.message}`));
  }
}

async function loadLetters() {
  try {
    const page = await read("/dead-letters", { limit: "20" });
    $("letters-count").textContent = `(${page.items.length}${page.nextCursor ? "+" : ""})`;
    const items = page.items.map((d) => el("li", { class: "letter" },
      el("span", { class: "mono" }, shortId(d.jobId)), ` ${d.jobType || "?"} · ${String(d.type || "").replace("dev.observatory.", "")} · code ${d.knativeerrorcode ?? "?"} · replays ${d.replayCount || 0} `,
      el("button", { type: "button", class: "small", onclick: () => replay(d) }, "replay"),
      el("button", { type: "button", class: "link small", onclick: () => d.jobId && openJob(d.jobId) }, "open")));
    if (!items.length) items.push(el("li", { class: "muted" }, "✓ no dead letters"));
    $("letters").replaceChildren(...items);
  } catch (err) {
    $("letters").replaceChildren(el("li", { class: "warn" }, `⚠ could not read /dead-letters: ${err.message}`));
  }
}

async function replay(letter, force = false) {
  const question = force
    ? "This job already COMPLETED. Run it again anyway (forced replay)?"
    : `Replay the dead letter of job ${letter.jobId} (${letter.jobType})? It runs again as a new generation.`;
  if (!window.confirm(question)) {
    $("replay-result").textContent = "replay cancelled; nothing changed";
    return;
  }
  const token = $("token").value.trim();
  const url = `${state.config.readModel}/dead-letters/${encodeURIComponent(letter.id)}/replay${force ? "?force=true" : ""}`;
  const response = await fetch(url, { method: "POST", headers: token ? { Authorization: `Bearer ${token}` } : {} }).catch(() => null);
  if (!response) { $("replay-result").textContent = unreachable(); return; }
  const body = await response.json().catch(() => ({}));
  if (response.status === 409 && !force) return replay(letter, true);
  $("replay-result").textContent = response.ok
    ? `✓ replayed${body.forced ? " (forced)" : ""}: job ${body.jobId} runs again as generation ${body.generation}`
    : `✗ replay refused: HTTP ${response.status} ${body.detail || body.title || ""}`;
  loadLetters();
}

// -- new job ----------------------------------------------------------------------------------------------

function sample() { $("payload").value = JSON.stringify(SAMPLES[$("job-type").value] || {}, null, 2); }

async function submitJob() {
  const out = $("submit-result");
  let payload;
  try {
    payload = JSON.parse($("payload").value || "{}");
  } catch (err) {
    out.className = "result bad";
    out.textContent = `✗ not sent: payload is not valid JSON (${err.message})`;
    return;
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    out.className = "result bad";
    out.textContent = "✗ not sent: the payload must be a JSON object";
    return;
  }
  out.className = "result";
  out.textContent = "submitting…";
  const response = await fetch(state.config.submitUrl, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ type: $("job-type").value, payload }),
  }).catch(() => null);
  if (!response) { out.className = "result bad"; out.textContent = "✗ this page's server does not answer"; return; }
  const body = await response.json().catch(() => ({}));
  if (response.ok) {
    out.className = "result ok";
    out.textContent = `✓ ${body.duplicate ? "already accepted before" : "accepted"}: job ${body.jobId} · status ${body.status} · event ${body.eventId}`;
    return;
  }
  out.className = "result bad";
  out.replaceChildren(el("div", {}, `✗ refused: HTTP ${response.status} ${body.title || ""}${body.detail ? `: ${body.detail}` : ""}`),
    ...(body.errors || []).map((e) => el("div", { class: "field-error" }, `${(e.pointer || "").replace(/^\//, "").replaceAll("/", ".") || "(whole body)"}: ${e.message}`)));
}

// -- live stream ------------------------------------------------------------------------------------------

function follow() {
  const source = new EventSource(`${state.config.readModel}/stream`);
  state.source = source;
  let wasDown = false;
  source.addEventListener("open", () => {
    setLive(true, "");
    if (wasDown) { wasDown = false; loadJobs(); loadAlerts(); loadLetters(); }
  });
  source.addEventListener("stats", (e) => showStats(JSON.parse(e.data)));
  source.addEventListener("job", (e) => upsert(JSON.parse(e.data)));
  source.addEventListener("error", (e) => {
    if (e.data) { $("banner").hidden = false; $("banner").textContent = `read model: ${JSON.parse(e.data).detail}`; return; }
    wasDown = true;
    setLive(false, unreachable());  // EventSource reconnects by itself (the stream's retry: 2000)
  });
}

async function start() {
  state.config = await (await fetch("/config.json", { cache: "no-store" })).json();
  $("source").textContent = state.config.readModel;
  $("footer-source").textContent = state.config.readModel;
  // The read model and the gateway are where this mirror was told they are; the rest on their usual ports.
  const bases = { 8080: state.config.readModel, 3000: state.config.gateway };
  $("uis").replaceChildren(...UIS.map(([name, port, path]) => {
    const base = bases[port] || `http://${location.hostname || "127.0.0.1"}:${port}`;
    return el("li", {}, el("a", { href: `${base}${path}`, target: "_blank", rel: "noopener" }, name), ` ${base.replace(/^https?:\/\//, "")}`);
  }));
  $("status-filter").addEventListener("change", readFilters);
  $("type-filter").addEventListener("change", readFilters);
  $("search").addEventListener("input", readFilters);
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  $("more").addEventListener("click", () => loadJobs(true));
  $("close-detail").addEventListener("click", () => { state.openJob = null; $("detail").hidden = true; renderJobs(); });
  $("open-new-job").addEventListener("click", () => { if (!$("payload").value) sample(); $("new-job").showModal(); });
  $("close-new-job").addEventListener("click", () => $("new-job").close());
  $("job-type").addEventListener("change", sample);
  $("submit-job").addEventListener("click", submitJob);
  try { showStats(await read("/stats")); setLive(true, ""); } catch (err) { setLive(false, unreachable()); }
  loadJobs();
  loadAlerts();
  loadLetters();
  setInterval(loadAlerts, ALERTS_EVERY_MS);
  setInterval(loadLetters, ALERTS_EVERY_MS);
  follow();
}

document.addEventListener("DOMContentLoaded", start);
