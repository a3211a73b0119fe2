// The page's entry point: the token (typed, or from #token=), the organization for admin tokens, the stream, the
// two views (#/ is the fleet, #/chargers/<id> a charger).
import { api, claims, session } from "./api.js";
import { hideCharger, initCharger, onCommands, onFrames, showCharger } from "./charger.js";
import { initConfiguration, loadConfiguration } from "./configuration.js";
import { $, el } from "./dom.js";
import { initEvents, showEvents } from "./events.js";
import { initFleet, render } from "./fleet.js";
import { apply, reset } from "./state.js";
import { LiveStream } from "./stream.js";

const stream = new LiveStream(
  {
    hello: (data) => { if (!data.resumed) reset(); },
    ...apply,
    commands: onCommands,
    frames: onFrames,
  },
  (text, status) => {
    $("connection").textContent = text;
    if (status === 401 || status === 403) signIn(text);
  },
);

function takeTokenFromFragment() {
  const match = location.hash.match(/^#token=([^&]+)/);
  if (!match) return;
  session.token = decodeURIComponent(match[1]);
  history.replaceState(null, "", location.pathname); // the token leaves the address bar and the history
}

function signIn(error = "") {
  stream.close();
  $("login").hidden = false;
  $("fleet").hidden = $("charger").hidden = $("events").hidden = true;
  $("sign-out").hidden = $("views-nav").hidden = true;
  $("login-error").textContent = error;
  $("token-input").focus();
}

async function pickOrganization() {
  const picker = $("org-picker");
  if (claims(session.token).role !== "admin") {
    picker.hidden = true;
    session.org = null;
    return true;
  }
  const { data } = await api("GET", "/organizations");
  const select = $("org-select");
  select.replaceChildren(...data.map((org) => el("option", { value: org.id, text: org.id })));
  picker.hidden = false;
  if (!data.length) {
    signIn("No organization is registered yet: create one with POST /organizations.");
    return false;
  }
  if (!data.some((org) => org.id === session.org)) session.org = data[0].id;
  select.value = session.org;
  return true;
}

function route() {
  if (!session.token) return;
  const match = location.hash.match(/^#\/chargers\/([^/]+)$/);
  const events = location.hash.match(/^#\/events(?:\/([^/]+))?$/);
  $("login").hidden = true;
  $("sign-out").hidden = $("views-nav").hidden = false;
  $("events").hidden = !events;
  if (events) {
    hideCharger();
    $("fleet").hidden = $("charger").hidden = true;
    if (stream.stopped) stream.open(null);
    showEvents(events[1] ? decodeURIComponent(events[1]) : null);
  } else if (match) {
    const id = decodeURIComponent(match[1]);
    $("fleet").hidden = true;
    $("charger").hidden = false;
    showCharger(id);
    if (stream.chargerId !== id || stream.stopped) {
      watch(id).catch((error) => { $("connection").textContent = `Not connected: ${error.message}`; });
    }
  } else {
    hideCharger();
    $("charger").hidden = true;
    $("fleet").hidden = false;
    if (stream.chargerId !== null || stream.stopped) stream.open(null);
    render();
  }
}

/** Watches a charger's frames if it is one of this organization's; else the fleet stream goes on. */
async function watch(id) {
  try {
    await api("GET", `/chargers/${encodeURIComponent(id)}`);
    stream.open(id);
    loadConfiguration(id);
  } catch (error) {
    if (error.status !== 404) throw error;
    if (stream.chargerId !== null || stream.stopped) stream.open(null);
    showCharger(null);
  }
}

async function start() {
  try {
    if (!(await pickOrganization())) return;
  } catch (error) {
    signIn(`The token was refused: ${error.message}`);
    return;
  }
  route();
}

function init() {
  takeTokenFromFragment();
  initFleet((id) => { location.hash = `#/chargers/${encodeURIComponent(id)}`; });
  initCharger();
  initConfiguration();
  initEvents();
  window.addEventListener("hashchange", () => { if (!location.hash.startsWith("#token=")) route(); else init(); });
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    session.token = $("token-input").value.trim();
    $("token-input").value = "";
    start();
  });
  $("org-select").addEventListener("change", () => {
    session.org = $("org-select").value;
    stream.close();
    reset();
    route();
  });
  $("sign-out").addEventListener("click", () => { session.token = null; session.org = null; reset(); signIn(); });
  if (session.token) start();
  else signIn();
}

init();
