// What the page knows of the tenant's fleet, folded from the stream's events; views subscribe to changes.
export const fleet = {
  locations: new Map(),
  chargers: new Map(),
  meters: new Map(), // "charger/evse/connector" -> {power_w, meter_wh, at}
  listeners: new Set(),
};

function emit(kind, ids) {
  for (const listener of fleet.listeners) listener(kind, ids);
}

export function reset() {
  fleet.locations.clear();
  fleet.chargers.clear();
  fleet.meters.clear();
  emit("reset", []);
}

export const apply = {
  locations({ locations }) {
    for (const doc of locations) fleet.locations.set(doc.id, doc);
    emit("locations", locations.map((d) => d.id));
  },
  chargers({ chargers }) {
    for (const doc of chargers) fleet.chargers.set(doc.id, doc);
    emit("chargers", chargers.map((d) => d.id));
  },
  removed({ chargers = [], locations = [] }) {
    for (const id of chargers) fleet.chargers.delete(id);
    for (const id of locations) fleet.locations.delete(id);
    emit("removed", [...chargers, ...locations]);
  },
  meters({ meters }) {
    for (const m of meters) fleet.meters.set(`${m.charger_id}/${m.evse_id}/${m.connector_id}`, m);
    emit("meters", [...new Set(meters.map((m) => m.charger_id))]);
  },
};

/** Connector 1 (the first EVSE's), the one a row's status shows. */
export function firstConnector(doc) {
  const connectors = (doc.connectors || []).filter((c) => c.connector_id === 1);
  connectors.sort((a, b) => a.evse_id - b.evse_id);
  return connectors[0] || null;
}

/** The meter reading of a connector, and its power only while a transaction runs. */
export function reading(doc, connector) {
  const found = fleet.meters.get(`${doc.id}/${connector.evse_id}/${connector.connector_id}`);
  const power = connector.transaction_id && found && found.power_w != null ? found.power_w : 0;
  return { power, meter: found ? found.meter_wh : null };
}

export function chargerPower(doc) {
  return (doc.connectors || []).reduce((sum, c) => sum + (c.connector_id ? reading(doc, c).power : 0), 0);
}

export const kw = (watts) => `${(watts / 1000).toFixed(1)} kW`;
export const kwh = (wh) => (wh == null ? "–" : `${(wh / 1000).toFixed(2)} kWh`);
