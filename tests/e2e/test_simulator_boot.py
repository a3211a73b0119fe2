"""Connecting and booting: URL, subprotocol, BootNotification, status of every connector, heartbeats, Basic auth."""

from __future__ import annotations

import base64

import pytest

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import (
    AC,
    DC,
    WAIT,
    Api,
    CsmsFactory,
    calls_from_cp,
    catalog_model,
    eventually,
    gaps,
    never,
    new_identity,
    reported_connectors,
)

MODELS = {"ac": AC, "dc": DC}


@pytest.mark.parametrize(("kind", "interval"), [("ac", 2), ("dc", 1)])
async def test_a_new_charger_connects_boots_reports_every_connector_and_heartbeats_at_the_csms_interval(
    api: Api, csms_factory: CsmsFactory, version: str, kind: str, interval: int
) -> None:
    model = MODELS[kind]
    facts = catalog_model(model)
    csms = await csms_factory(heartbeat_interval=interval)
    charger = await api.create_charger(csms.url(), version, model)
    identity = charger.identity

    session = await csms.wait_connected(identity)
    assert session.ocpp_version == version.lower()
    assert session.websocket.request is not None
    assert session.websocket.request.path == f"/ocpp/{identity}"

    [boot] = await csms.wait_for(identity, "BootNotification")
    if version == "OCPP1.6":
        assert boot["chargePointVendor"] == facts.vendor
        assert boot["chargePointModel"] == facts.model
        assert boot["chargePointSerialNumber"] == identity
        assert boot["firmwareVersion"] == facts.firmware_version
    else:
        station = boot["chargingStation"]
        assert (station["vendorName"], station["model"]) == (facts.vendor, facts.model)
        assert station["serialNumber"] == identity
        assert station["firmwareVersion"] == facts.firmware_version
        assert boot["reason"] == "PowerUp"

    statuses = await csms.wait_for(identity, "StatusNotification", count=reported_connectors(version, model))
    if version == "OCPP1.6":
        assert [s["connectorId"] for s in statuses] == list(range(facts.connectors + 1))
        assert {(s["status"], s["errorCode"]) for s in statuses} == {("Available", "NoError")}
    else:
        assert [(s["evseId"], s["connectorId"]) for s in statuses] == [(n, 1) for n in range(1, facts.connectors + 1)]
        assert {s["connectorStatus"] for s in statuses} == {"Available"}

    await csms.wait_for(identity, "Heartbeat", count=4 - interval, timeout=WAIT)  # at least one gap to measure
    actions = [action for action, _ in csms.received(identity)]
    assert actions[: len(statuses) + 2] == ["BootNotification", *["StatusNotification"] * len(statuses), "Heartbeat"]
    assert set(actions) == {"BootNotification", "StatusNotification", "Heartbeat"}
    heartbeats = calls_from_cp(csms, identity, "Heartbeat")
    last_status = calls_from_cp(csms, identity, "StatusNotification")[-1]
    heartbeat_gaps = [heartbeats[0].at - last_status.at, *gaps(heartbeats)]
    assert all(interval - 0.3 <= gap <= interval + 0.7 for gap in heartbeat_gaps), heartbeat_gaps
    assert csms.call_errors(identity) == []  # everything it sent was schema-valid
    assert csms.connection_count(identity) == 1

    doc = await api.wait_runtime(charger.id, "booted")
    assert doc["heartbeat_interval"] == interval
    assert doc["connected_at"] is not None
    assert doc["last_frame_at"] is not None
    doc = await api.wait_charger(
        charger.id, lambda d: len(d["connectors"]) == len(statuses), what="every connector in the view"
    )
    physical = [c for c in doc["connectors"] if c["connector_id"] != 0 and c["evse_id"] != 0]
    assert len(physical) == facts.connectors
    assert {c["status"] for c in doc["connectors"]} == {"Available"}


@pytest.mark.parametrize("verdict", ["Pending", "Rejected"])
async def test_a_boot_not_accepted_is_retried_after_the_interval_and_nothing_else_is_sent(
    api: Api, csms_factory: CsmsFactory, version: str, verdict: str
) -> None:
    csms = await csms_factory(heartbeat_interval=1, boot_status=verdict)
    charger = await api.create_charger(csms.url(), version, DC)

    await csms.wait_for(charger.identity, "BootNotification", count=3, timeout=WAIT)
    assert {action for action, _ in csms.received(charger.identity)} == {"BootNotification"}
    retry_gaps = gaps(calls_from_cp(csms, charger.identity, "BootNotification"))
    assert all(0.8 <= gap <= 2.0 for gap in retry_gaps), retry_gaps
    assert csms.connection_count(charger.identity) == 1  # retried on the same connection

    doc = await api.wait_charger(charger.id, lambda d: d["runtime_status"] != "connecting", what="a boot answer")
    assert doc["runtime_status"] == ("rejected" if verdict == "Rejected" else "connected")
    assert {action for action, _ in csms.received(charger.identity)} == {"BootNotification"}


async def test_a_pending_charger_boots_once_the_csms_accepts_it(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=1, boot_status="Pending")
    charger = await api.create_charger(csms.url(), version, AC)
    await csms.wait_for(charger.identity, "BootNotification")

    csms.verdicts.boot_status = "Accepted"
    await csms.wait_for(charger.identity, "Heartbeat", timeout=WAIT)
    actions = [action for action, _ in csms.received(charger.identity)]
    first_status = actions.index("StatusNotification")
    assert set(actions[:first_status]) == {"BootNotification"}
    assert first_status >= 2
    await api.wait_runtime(charger.id, "booted")


async def test_a_charger_with_an_authorization_key_boots_through_http_basic_auth(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    identity = new_identity("CP-AUTH")
    csms = await csms_factory(basic_auth={identity: "secret-key-123"})
    charger = await api.create_charger(csms.url(), version, AC, identity=identity, authorization_key="secret-key-123")

    session = await csms.wait_connected(identity)
    assert session.websocket.request is not None
    header = session.websocket.request.headers["Authorization"]
    assert header == "Basic " + base64.b64encode(f"{identity}:secret-key-123".encode()).decode()
    await csms.wait_for(identity, "StatusNotification")
    doc = await api.wait_runtime(charger.id, "booted")

    assert doc["has_authorization_key"] is True
    for response in (await api.http.get(f"/chargers/{charger.id}"), await api.http.get("/chargers")):
        assert "secret-key-123" not in response.text
        assert "aesgcm" not in response.text


async def test_a_charger_with_a_wrong_authorization_key_is_refused_and_never_boots(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    identity = new_identity("CP-BADKEY")
    csms = await csms_factory(basic_auth={identity: "secret-key-123"})
    charger = await api.create_charger(csms.url(), version, AC, identity=identity, authorization_key="wrong-key-456")
    without_key = await api.create_charger(csms.url(), version, AC)
    csms.verdicts.basic_auth[without_key.identity] = "secret-key-123"

    await api.wait_runtime(charger.id, "connecting")
    await never(
        lambda: csms.connection_count(identity) or csms.connection_count(without_key.identity),
        what="a charger without the right key got through",
    )
    for refused in (charger, without_key):
        assert csms.received(refused.identity) == []
        assert (await api.charger(refused.id))["runtime_status"] == "connecting"


@pytest.mark.parametrize("path", ["ocpp/v2/site-7", "ocpp/"], ids=["deep-path", "trailing-slash"])
async def test_a_charger_connects_to_the_url_with_its_identity_as_last_path_segment(
    api: Api, csms: CsmsServer, version: str, path: str
) -> None:
    ws_url = f"ws://127.0.0.1:{csms.port}/{path}"
    charger = await api.create_charger(ws_url, version, AC)
    session = await csms.wait_connected(charger.identity)
    assert session.websocket.request is not None
    assert session.websocket.request.path == f"/{path.strip('/')}/{charger.identity}"
    await eventually(lambda: csms.received(charger.identity, "StatusNotification"), what="a StatusNotification")


async def test_a_new_authorization_key_reconnects_the_charger_with_it(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    identity = new_identity("CP-NEWKEY")
    csms = await csms_factory(basic_auth={identity: "secret-key-123"})
    charger = await api.create_charger(csms.url(), version, AC, identity=identity, authorization_key="old-key-0000")
    await api.wait_runtime(charger.id, "connecting")
    assert csms.connection_count(identity) == 0

    doc = await api.update_charger(charger.id, authorization_key="secret-key-123")
    assert doc["has_authorization_key"] is True
    assert "secret-key-123" not in str(doc)
    await csms.wait_connected(identity, timeout=5)
    await csms.wait_for(identity, "StatusNotification")
    await api.wait_runtime(charger.id, "booted")


async def test_a_ws_url_with_a_query_string_gets_the_identity_appended_to_its_path(
    api: Api, csms: CsmsServer, version: str
) -> None:
    charger = await api.create_charger(f"ws://127.0.0.1:{csms.port}/ocpp?site=7", version, AC)
    await eventually(lambda: csms.connection_count(charger.identity), timeout=5, what="a connection as its identity")
    session = csms.sessions[charger.identity]
    assert session.websocket.request is not None
    assert session.websocket.request.path == f"/ocpp/{charger.identity}?site=7"
