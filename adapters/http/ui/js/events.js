// The auditors' view: the organization's events in log order (GET /events, paged by position), or one
// charger's whole history (GET /chargers/{id}/history), with who caused each and in which request.
import { api } from "./api.js";
import { $, el } from "./dom.js";

const PAGE = 100;
let after = 0;
let source = null; // null: the organization's events; else a charger id

export function initEvents() {
  $("more-events").addEventListener("click", () => load().catch(report));
}

/** Shows the events from the start: the organization's, or one charger's history. */
export function showEvents(chargerId = null) {
  source = chargerId;
  after = 0;
  $("event-rows").replaceChildren();
  $("events-title").textContent = chargerId ? "History of a charger" : "Events";
  load().catch(report);
}

function report(error) {
  $("events-summary").textContent = `Cannot load the events (${error.status}): ${error.message}`;
}

async function load() {
  const page = source
    ? await api("GET", `/chargers/${encodeURIComponent(source)}/history`)
    : await api("GET", `/events?${new URLSearchParams({ after, limit: PAGE })}`);
  $("event-rows").append(...page.data.map(row));
  after = page.next_after ?? after;
  $("more-events").hidden = page.next_after == null;
  $("events-summary").textContent = `${$("event-rows").childElementCount} events shown`;
}

function row(record) {
  const actor = record.actor || {};
  return el("tr", { "data-testid": "event-row", "data-type": record.type },
    el("td", { text: record.position }),
    el("td", {}, el("time", { datetime: record.timestamp, text: record.timestamp.replace("T", " ").slice(0, 23) })),
    el("td", {}, el("details", {}, el("summary", { text: record.type }),
      el("pre", { className: "data", text: JSON.stringify(record.data, null, 2) }))),
    el("td", { className: "data", text: record.aggregate_id }),
    el("td", { text: actor.sub ? `${actor.sub} (${actor.role})` : "–" }),
    el("td", { className: "data", text: record.request_id || "–" }));
}
