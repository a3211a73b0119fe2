// A charger's configuration as the charge point holds it (GET /chargers/{id}/configuration).
import { api } from "./api.js";
import { $, el } from "./dom.js";

let shown = null;

export function initConfiguration() {
  $("load-config").addEventListener("click", () => shown && loadConfiguration(shown));
}

export async function loadConfiguration(chargerId) {
  shown = chargerId;
  $("history-link").href = `#/events/${encodeURIComponent(chargerId)}`;
  try {
    const { configuration } = await api("GET", `/chargers/${encodeURIComponent(chargerId)}/configuration`);
    if (shown !== chargerId) return;
    $("config-rows").replaceChildren(...configuration.map((entry) =>
      el("tr", { "data-testid": "config-row" },
        el("th", { scope: "row", text: entry.key }),
        el("td", { className: "data", text: entry.value ?? "–" }),
        el("td", { text: entry.readonly ? "yes" : "no" }))));
  } catch (error) {
    $("config-rows").replaceChildren(el("tr", {}, el("td", { colspan: "3", text: `Not available: ${error.message}` })));
  }
}
