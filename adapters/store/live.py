"""The live feed: what each batch the views just folded changed, fanned out to the streams that watch a tenant.

The views' follower is the one reader of the event log in this process; it hands every committed batch to
`LiveFeed.publish`, which only marks what changed on each subscriber (charger, location, command ids, a watched
charger's frames, the latest meter reading per connector). Streams read the current documents from the views
when they flush, so bursts coalesce into one update per resource, and the cost per event is independent of the
number of events a resource had.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from adapters.store.projections import CHARGER_PREFIX, COMMAND_PREFIX, FRAME_TOPIC, LOCATION_PREFIX, RUNTIME_PREFIX

MAX_PENDING_FRAMES = 1000  # a watcher that falls further behind gets the newest ones and a count of the dropped
METER_ACTIONS = frozenset({"MeterValues", "TransactionEvent"})
POWER = "Power.Active.Import"
ENERGY = "Energy.Active.Import.Register"


@dataclass
class Changes:
    """What changed for one subscriber since its last flush, up to `position` (a notification id)."""

    position: int = 0
    chargers: set[str] = field(default_factory=set)
    runtimes: set[str] = field(default_factory=set)  # runtime ids: the charger is looked up in the views
    locations: set[str] = field(default_factory=set)
    commands: set[str] = field(default_factory=set)
    frames: list[dict[str, Any]] = field(default_factory=list)
    frames_dropped: int = 0
    meters: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.chargers or self.runtimes or self.locations or self.commands or self.frames or self.meters)


class Subscription:
    """One stream's view of the feed: its tenant, the charger it watches (frames), and what is pending."""

    def __init__(self, tenant_id: str, watched: str | None) -> None:
        self.tenant_id = tenant_id
        self.watched = watched
        self.pending = Changes()
        self.ready = asyncio.Event()

    def take(self) -> Changes:
        taken, self.pending = self.pending, Changes(position=self.pending.position)
        self.ready.clear()
        return taken


class LiveFeed:
    """Fan-out of folded batches to subscriptions, by tenant. Runs on the event loop of the views' follower."""

    def __init__(self) -> None:
        self._by_tenant: dict[str, set[Subscription]] = {}
        self.closed = False

    def close(self) -> None:
        """The server is stopping: every stream ends now rather than hold the graceful shutdown up."""
        self.closed = True
        for subscribers in self._by_tenant.values():
            for subscription in subscribers:
                subscription.ready.set()

    def subscribe(self, tenant_id: str, watched: str | None = None) -> Subscription:
        subscription = Subscription(tenant_id, watched)
        self._by_tenant.setdefault(tenant_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._by_tenant.get(subscription.tenant_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._by_tenant[subscription.tenant_id]

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self._by_tenant.values())

    def publish(self, events: Iterable[tuple[str, Any, Any]]) -> None:
        """A batch the views committed: (topic, event, notification) as they folded it."""
        if not self._by_tenant:
            return
        touched: set[Subscription] = set()
        for topic, event, notification in events:
            meta = getattr(event, "meta", None) or {}
            subscribers = self._by_tenant.get(meta.get("tenant_id") or "")
            if not subscribers:
                continue
            readings = (
                meter_readings(event.raw)
                if topic == FRAME_TOPIC and event.action in METER_ACTIONS and event.direction == "cp_to_csms"
                else ()
            )  # parsed once, whatever the number of subscribers
            for subscription in subscribers:
                if self._mark(subscription.pending, subscription.watched, topic, event, readings):
                    subscription.pending.position = notification.id
                    touched.add(subscription)
        for subscription in touched:
            subscription.ready.set()

    @staticmethod
    def _mark(pending: Changes, watched: str | None, topic: str, event: Any, readings: Iterable[dict]) -> bool:
        if topic == FRAME_TOPIC:
            marked = False
            if event.charger_key == watched:
                pending.frames.append(frame_entry(event.originator_version, event.at, event))
                if len(pending.frames) > MAX_PENDING_FRAMES:
                    del pending.frames[0]
                    pending.frames_dropped += 1
                marked = True
            for reading in readings:
                key = (event.charger_key, reading["evse_id"], reading["connector_id"])
                pending.meters[key] = {"charger_id": event.charger_key, "at": event.at, **reading}
                marked = True
            return marked
        key = str(event.originator_id)
        if topic.startswith(CHARGER_PREFIX):
            pending.chargers.add(key)
        elif topic.startswith(RUNTIME_PREFIX):
            pending.runtimes.add(key)
        elif topic.startswith(LOCATION_PREFIX):
            pending.locations.add(key)
        elif topic.startswith(COMMAND_PREFIX) and watched is not None:
            pending.commands.add(key)
        else:
            return False
        return True


def frame_entry(sequence: int, at: str, frame: Any) -> dict[str, Any]:
    """A frame as the stream sends it: the fields of a `GET /chargers/{id}/logs` entry."""
    return {
        "direction": frame.direction,
        "action": frame.action or "",
        "message": frame.raw,
        "timestamp": at,
        "message_id": frame.message_id,
        "sequence": sequence,
    }


def meter_readings(raw: str) -> list[dict[str, Any]]:
    """Power (W) and energy register (Wh) per connector in a charger's MeterValues / TransactionEvent CALL."""
    try:
        message = json.loads(raw)
    except ValueError:
        return []
    if not (isinstance(message, list) and len(message) == 4 and message[0] == 2 and isinstance(message[3], dict)):
        return []
    payload = message[3]
    samples = payload.get("meterValue") or []
    if message[2] == "MeterValues":
        evse_id = payload.get("evseId", payload.get("connectorId", 1))
        connector_id = payload.get("connectorId", 1)
    else:  # TransactionEvent (2.0.1)
        evse = payload.get("evse") or {}
        evse_id, connector_id = evse.get("id", 1), evse.get("connectorId", 1)
        if payload.get("eventType") == "Ended":
            return [{"evse_id": evse_id, "connector_id": connector_id, "power_w": 0.0, "meter_wh": _energy(samples)}]
    if not samples:
        return []
    power, energy = _measure(samples, POWER, "kW"), _energy(samples)
    if power is None and energy is None:
        return []
    return [{"evse_id": evse_id, "connector_id": connector_id, "power_w": power, "meter_wh": energy}]


def _energy(samples: list) -> float | None:
    return _measure(samples, ENERGY, "kWh")


def _measure(samples: list, measurand: str, kilo_unit: str) -> float | None:
    """The last value of a measurand (absent measurand = the energy register), scaled from kilo units."""
    found = None
    for sample in samples:
        for value in (sample.get("sampledValue") or []) if isinstance(sample, dict) else []:
            if not isinstance(value, dict) or value.get("measurand", ENERGY) != measurand:
                continue
            if value.get("phase"):
                continue  # per-phase values: the total is reported without a phase
            try:
                number = float(value["value"])
            except (KeyError, TypeError, ValueError):
                continue
            unit = value.get("unit") or (value.get("unitOfMeasure") or {}).get("unit")
            found = number * 1000 if unit == kilo_unit else number
    return found
