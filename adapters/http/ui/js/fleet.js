// The fleet view: the tenant's locations and chargers, filtered and paged; rows update in place as events come.
import { $, el, statusBadge } from "./dom.js";
import { chargerPower, firstConnector, fleet, kw, kwh } from "./state.js";

const PAGE_SIZE = 100;
let page = 0;
let scheduled = false;
let onOpen = () => {};

export function initFleet(openCharger) {
  onOpen = openCharger;
  $("filter").addEventListener("input", () => { page = 0; render(); });
  $("prev-page").addEventListener("click", () => { page = Math.max(0, page - 1); render(); });
  $("next-page").addEventListener("click", () => { page += 1; render(); });
  fleet.listeners.add((kind, ids) => {
    if ((kind === "chargers" || kind === "meters") && !$("filter").value.trim()) {
      for (const id of ids) if (!replaceRow(id)) return schedule();
      return undefined;
    }
    return schedule();
  });
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => { scheduled = false; render(); });
}

function locationName(doc) {
  const location = fleet.locations.get(doc.location_id);
  return location ? location.name : "";
}

function matches(doc, needle) {
  if (!needle) return true;
  const connector = firstConnector(doc);
  const text = [doc.identity, doc.name, doc.model, doc.vendor_name, doc.ocpp_version, doc.runtime_status,
    connector && connector.status, locationName(doc)].join(" ").toLowerCase();
  return needle.split(/\s+/).every((word) => text.includes(word));
}

function sorted() {
  const needle = $("filter").value.trim().toLowerCase();
  return [...fleet.chargers.values()]
    .filter((doc) => matches(doc, needle))
    .sort((a, b) => locationName(a).localeCompare(locationName(b)) || a.identity.localeCompare(b.identity));
}

function row(doc) {
  const connector = firstConnector(doc);
  const connectors = (doc.connectors || []).filter((c) => c.connector_id > 0);
  const meter = connectors.reduce((sum, c) => {
    const found = fleet.meters.get(`${doc.id}/${c.evse_id}/${c.connector_id}`);
    return found && found.meter_wh != null ? (sum ?? 0) + found.meter_wh : sum;
  }, null);
  const open = () => onOpen(doc.id);
  return el("tr", {
    "data-testid": "charger-row", "data-identity": doc.identity, "data-id": doc.id,
    "data-status": connector ? connector.status : "", tabindex: "0",
    "aria-label": `${doc.identity}: open the charger view`,
    onclick: open,
    onkeydown: (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); } },
  },
  el("th", { scope: "row", text: doc.identity }),
  el("td", { text: locationName(doc) }),
  el("td", { text: `${doc.vendor_name} ${doc.model}` }),
  el("td", { text: doc.ocpp_version }),
  el("td", { text: doc.runtime_status }),
  el("td", {}, connectors.map((c) => statusBadge(c.status))),
  el("td", { text: kw(chargerPower(doc)) }),
  el("td", { text: kwh(meter) }));
}

/** Replaces a charger's row if it is on screen and still in place; false when the list must be redrawn. */
function replaceRow(id) {
  const doc = fleet.chargers.get(id);
  const current = document.querySelector(`#charger-rows tr[data-id="${CSS.escape(id)}"]`);
  if (!doc || !current) return false;
  const fresh = row(doc);
  const focused = document.activeElement === current;
  current.replaceWith(fresh);
  if (focused) fresh.focus();
  return true;
}

export function render() {
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : null;
  const docs = sorted();
  const pages = Math.max(1, Math.ceil(docs.length / PAGE_SIZE));
  page = Math.min(page, pages - 1);
  $("charger-rows").replaceChildren(...docs.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).map(row));
  if (focused) { // a keyboard user keeps their place across live redraws
    const again = document.querySelector(`#charger-rows tr[data-id="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
  $("page-label").textContent = `Page ${page + 1} of ${pages}`;
  $("prev-page").disabled = page === 0;
  $("next-page").disabled = page >= pages - 1;
  const all = [...fleet.chargers.values()];
  const online = all.filter((d) => d.runtime_status === "booted").length;
  const charging = all.filter((d) => (firstConnector(d) || {}).status === "Charging").length;
  const power = all.reduce((sum, d) => sum + chargerPower(d), 0);
  $("fleet-summary").textContent =
    `${all.length} chargers in ${fleet.locations.size} locations · ${online} online · ${charging} charging · ${kw(power)}`;
  $("locations").replaceChildren(...[...fleet.locations.values()].map((l) =>
    el("span", { text: `${l.name} (${l.city}) · ${l.charger_count} chargers` })));
}
