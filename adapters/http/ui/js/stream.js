// The live stream: a ticket bought with the bearer token, an EventSource, and resume after a dropped connection.
import { api } from "./api.js";

const EVENTS = ["hello", "ready", "locations", "chargers", "removed", "meters", "commands", "frames"];

export class LiveStream {
  /** handlers: {event name: function(data)}; onState(text) tells the user how the connection is. */
  constructor(handlers, onState) {
    this.handlers = handlers;
    this.onState = onState;
    this.source = null;
    this.lastId = null;
    this.chargerId = null;
    this.timer = null;
    this.stopped = true;
  }

  /** Opens the stream (watching a charger, or not); a fresh snapshot comes first. */
  open(chargerId = null) {
    this.close();
    this.stopped = false;
    this.chargerId = chargerId;
    this.lastId = null;
    this.connect();
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
  }

  async connect() {
    let ticket;
    try {
      ticket = (await api("POST", "/stream/tickets")).ticket;
    } catch (error) {
      this.onState(`Not connected: ${error.message}`, error.status);
      if (error.status !== 401 && error.status !== 403) this.retry();
      return;
    }
    if (this.stopped) return;
    const params = new URLSearchParams({ ticket });
    if (this.chargerId) params.set("charger_id", this.chargerId);
    if (this.lastId) params.set("last_event_id", this.lastId);
    const source = new EventSource(`/stream?${params}`);
    this.source = source;
    for (const name of EVENTS) {
      source.addEventListener(name, (event) => {
        if (event.lastEventId) this.lastId = event.lastEventId;
        const handler = this.handlers[name];
        if (handler) handler(JSON.parse(event.data));
      });
    }
    source.addEventListener("ready", () => this.onState("Live"));
    source.addEventListener("expired", () => {
      this.close();
      this.onState("The token expired: paste a new one", 401);
    });
    source.onerror = () => {
      // The ticket is single-minute: reconnect ourselves with a new one, resuming after the last id seen.
      source.close();
      if (this.source === source) this.retry();
    };
  }

  retry() {
    if (this.stopped) return;
    this.onState("Reconnecting…");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), 1000);
  }
}
