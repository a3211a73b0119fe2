"""The live feed and its tickets, without a server: what a folded batch marks on each subscription, how meter
values become power and energy, and what a stream ticket proves."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from uuid import uuid4

import pytest

from adapters.store.live import LiveFeed, meter_readings
from adapters.store.projections import CHARGER_PREFIX, COMMAND_PREFIX, FRAME_TOPIC, RUNTIME_PREFIX
from adapters.stream_tickets import InvalidTicket, StreamTickets
from application.ports import Actor


@dataclass
class Event:
    tenant: str
    originator_id: object = field(default_factory=uuid4)
    charger_key: str = ""
    action: str | None = None
    direction: str = "cp_to_csms"
    raw: str = "[]"
    originator_version: int = 1
    at: str = "2026-01-01T00:00:00.000000Z"
    message_id: str | None = None

    @property
    def meta(self) -> dict:
        return {"tenant_id": self.tenant}


@dataclass
class Notification:
    id: int


def meter_values_16(power: str, energy: str, unit: str = "W") -> str:
    samples = [
        {"value": energy, "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": power, "measurand": "Power.Active.Import", "unit": unit},
    ]
    return json.dumps([2, "m1", "MeterValues", {"connectorId": 1, "meterValue": [{"sampledValue": samples}]}])


def test_a_batch_marks_only_the_subscriptions_of_its_tenant():
    feed = LiveFeed()
    mine, theirs = feed.subscribe("acme"), feed.subscribe("globex")
    charger = Event("acme")
    feed.publish([(CHARGER_PREFIX + "Registered", charger, Notification(7))])
    assert mine.ready.is_set() and not theirs.ready.is_set()
    taken = mine.take()
    assert taken.chargers == {str(charger.originator_id)} and taken.position == 7
    assert not mine.ready.is_set() and not mine.pending


def test_frames_and_commands_reach_only_the_watcher_of_their_charger():
    feed = LiveFeed()
    watcher, fleet = feed.subscribe("acme", watched="c-1"), feed.subscribe("acme")
    frame = Event("acme", charger_key="c-1", action="Heartbeat", raw='[2,"1","Heartbeat",{}]')
    feed.publish(
        [(FRAME_TOPIC, frame, Notification(3)), (COMMAND_PREFIX + "Requested", Event("acme"), Notification(4))]
    )
    taken = watcher.take()
    assert [f["action"] for f in taken.frames] == ["Heartbeat"] and len(taken.commands) == 1
    assert not fleet.ready.is_set(), "a heartbeat of a charger nobody watches changes nothing on the fleet"


def test_bursts_coalesce_into_one_mark_per_resource_and_the_newest_meter_reading():
    feed = LiveFeed()
    subscription = feed.subscribe("acme")
    runtime = Event("acme")
    batch = [(RUNTIME_PREFIX + "ConnectorStatusChanged", runtime, Notification(n)) for n in range(1, 50)]
    batch += [
        (
            FRAME_TOPIC,
            Event("acme", charger_key="c-1", action="MeterValues", raw=meter_values_16(p, "10")),
            Notification(60 + i),
        )
        for i, p in enumerate(("1000", "2000", "3000"))
    ]
    feed.publish(batch)
    taken = subscription.take()
    assert taken.runtimes == {str(runtime.originator_id)}
    assert [m["power_w"] for m in taken.meters.values()] == [3000.0] and taken.position == 62


def test_meter_readings_of_both_versions_in_watts_and_watt_hours():
    assert meter_readings(meter_values_16("7.4", "1500", unit="kW")) == [
        {"evse_id": 1, "connector_id": 1, "power_w": 7400.0, "meter_wh": 1500.0}
    ]
    ended = [2, "t", "TransactionEvent", {"eventType": "Ended", "evse": {"id": 2, "connectorId": 1}, "meterValue": []}]
    assert meter_readings(json.dumps(ended)) == [{"evse_id": 2, "connector_id": 1, "power_w": 0.0, "meter_wh": None}]
    assert meter_readings("not json") == [] and meter_readings('[3,"m",{}]') == []


def test_a_ticket_names_its_tenant_and_expires():
    tickets = StreamTickets(b"k" * 32, ttl=60)
    ticket, expires_at = tickets.issue(Actor(sub="ann", role="user", tenant_id="acme", request_id="r"), now=1000)
    assert expires_at == 1060
    assert tickets.verify(ticket, now=1059).tenant_id == "acme"
    with pytest.raises(InvalidTicket, match="expired"):
        tickets.verify(ticket, now=1061)


def test_a_ticket_signed_with_another_key_or_altered_is_refused():
    ticket, _ = StreamTickets(b"a" * 32).issue(Actor(sub="ann", role="user", tenant_id="acme", request_id="r"))
    with pytest.raises(InvalidTicket):
        StreamTickets(b"b" * 32).verify(ticket)
    body, _, signature = ticket.partition(".")
    with pytest.raises(InvalidTicket):
        StreamTickets(b"a" * 32).verify(body[:-2] + "xx." + signature)
    with pytest.raises(InvalidTicket):
        StreamTickets(b"a" * 32).verify("garbage")


def test_a_ticket_never_outlives_the_token_it_was_bought_with():
    tickets = StreamTickets(b"k" * 32, ttl=60)
    actor = Actor(sub="ann", role="user", tenant_id="acme", request_id="r")
    ticket, expires_at = tickets.issue(actor, token_expires_at=1010, now=1000)
    assert expires_at == 1010 and tickets.verify(ticket, now=1005).token_expires_at == 1010
