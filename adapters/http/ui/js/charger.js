// The charger view: connectors, a power chart, command buttons (the ordinary REST routes), recent commands and
// the frames streaming in (newest last, paused on request, filtered by action).
import { api } from "./api.js";
import { $, el, statusBadge } from "./dom.js";
import { fleet, kw, kwh, reading } from "./state.js";

const MAX_FRAMES = 500;
const MAX_POINTS = 120;
let chargerId = null;
let paused = false;
let held = []; // frames that arrived while paused
let commands = new Map();
let power = [];

/** Command route -> [how the inputs are sent, body or query builder]. */
const COMMANDS = {
  "start-session": (c) => ({ body: { id_tag: $("id-tag-input").value.trim(), connector_id: c } }),
  "stop-session": (c) => ({ body: { connector_id: c } }),
  "plug-connector": (c) => ({ body: { connector_id: c } }),
  "unplug-connector": (c) => ({ body: { connector_id: c } }),
  "start-charger": () => ({ body: {} }),
  "stop-charger": () => ({ body: {} }),
  "inject-fault": (c) => ({ query: { fault_type: $("fault-input").value, connector_id: c } }),
  "clear-fault": (c) => ({ query: { connector_id: c } }),
};

export function initCharger() {
  for (const button of document.querySelectorAll("[data-command]")) {
    button.addEventListener("click", () => run(button.dataset.command, button));
  }
  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").setAttribute("aria-pressed", String(paused));
    $("pause").textContent = paused ? "Resume" : "Pause";
    if (!paused) { addFrames(held); held = []; }
  });
  $("frame-filter").addEventListener("input", applyFrameFilter);
  fleet.listeners.add((kind, ids) => {
    if (chargerId && (kind === "reset" || ids.includes(chargerId))) renderCharger(kind === "meters");
  });
}

export function showCharger(id) {
  chargerId = id;
  held = [];
  commands = new Map();
  power = [];
  $("frame-list").replaceChildren();
  $("command-list").replaceChildren();
  $("config-rows").replaceChildren();
  $("command-result").textContent = "";
  renderCharger();
}

export function hideCharger() { chargerId = null; }

async function run(route, button) {
  const connector = Number($("connector-input").value) || 1;
  const { body, query } = COMMANDS[route](connector);
  const path = `/chargers/${encodeURIComponent(chargerId)}/${route}${query ? `?${new URLSearchParams(query)}` : ""}`;
  button.disabled = true;
  $("command-result").textContent = `${route}: sending…`;
  try {
    const answer = await api("POST", path, body);
    $("command-result").textContent = `${route}: ${answer.status || "ok"}${answer.msg ? ` (${answer.msg})` : ""}`;
  } catch (error) {
    $("command-result").textContent = `${route} failed (${error.status}): ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

/** Redraws the charger; a meter reading also adds a point to the power line. */
function renderCharger(sample = false) {
  const doc = fleet.chargers.get(chargerId);
  if (!doc) {
    $("charger-title").textContent = "Charger not found";
    $("charger-facts").textContent = "It may have been deleted, or belong to another organization.";
    return;
  }
  $("charger-title").textContent = doc.identity;
  $("charger-facts").textContent =
    `${doc.vendor_name} ${doc.model} · ${doc.ocpp_version} · runtime ${doc.runtime_status} · desired ${doc.desired_state}`;
  const connectors = (doc.connectors || []).filter((c) => c.connector_id > 0);
  $("connector-rows").replaceChildren(...connectors.map((c) => {
    const { power: watts, meter } = reading(doc, c);
    return el("tr", { "data-testid": "connector-row", "data-status": c.status },
      el("th", { scope: "row", text: `${c.evse_id}/${c.connector_id}` }),
      el("td", {}, statusBadge(c.status)),
      el("td", { text: c.error_code || "–" }),
      el("td", { text: c.transaction_id || "–" }),
      el("td", { text: kw(watts) }),
      el("td", { text: kwh(meter) }));
  }));
  if (sample) {
    power.push(connectors.reduce((sum, c) => sum + reading(doc, c).power, 0));
    power = power.slice(-MAX_POINTS);
  }
  drawChart();
}

function drawChart() {
  const top = Math.max(1, ...power);
  const points = power.map((w, i) => `${(i / Math.max(1, power.length - 1)) * 300},${78 - (w / top) * 74}`).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  const label = document.createElementNS("http://www.w3.org/2000/svg", "title");
  label.textContent = `Power, last ${power.length} meter readings; peak ${kw(top)}`;
  $("power-chart").replaceChildren(label, line);
}

export function onCommands({ commands: docs }) {
  for (const doc of docs) commands.set(doc.id, doc);
  const recent = [...commands.values()].sort((a, b) => a.created_at.localeCompare(b.created_at)).slice(-20);
  $("command-list").replaceChildren(...recent.reverse().map((c) =>
    el("li", { "data-testid": "command", "data-status": c.status },
      `${c.created_at.slice(11, 19)} ${c.event_type}: ${c.status}`, c.reason ? ` (${c.reason})` : "")));
}

export function onFrames({ charger_id: id, frames }) {
  if (id !== chargerId) return;
  if (paused) { held = held.concat(frames).slice(-MAX_FRAMES); return; }
  addFrames(frames);
}

function addFrames(frames) {
  const list = $("frame-list");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  const needle = $("frame-filter").value.trim().toLowerCase();
  list.append(...frames.map((f) => frameItem(f, needle)));
  while (list.childElementCount > MAX_FRAMES) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function frameItem(frame, needle) {
  let pretty = frame.message;
  try { pretty = JSON.stringify(JSON.parse(frame.message), null, 2); } catch { /* raw text as it came */ }
  const arrow = frame.direction === "cp_to_csms" ? "→ CSMS" : "← CSMS";
  const item = el("li", { "data-testid": "frame", "data-action": frame.action, "data-direction": frame.direction },
    el("details", {},
      el("summary", {},
        el("time", { datetime: frame.timestamp, text: frame.timestamp.slice(11, 23) }), " ",
        el("span", { className: `dir-${frame.direction}`, text: arrow }), " ",
        el("strong", { text: frame.action || "(answer)" })),
      el("pre", { text: pretty })));
  item.hidden = Boolean(needle) && !frame.action.toLowerCase().includes(needle);
  return item;
}

function applyFrameFilter() {
  const needle = $("frame-filter").value.trim().toLowerCase();
  for (const item of $("frame-list").children) {
    item.hidden = Boolean(needle) && !(item.dataset.action || "").toLowerCase().includes(needle);
  }
}
