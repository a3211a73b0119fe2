"""Session and transaction commands of one charger (api.md 6.5), both OCPP versions: what the CSMS receives, in
order (simulation.md, 'What each REST command puts on the wire'), and what becomes of the command record."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from adapters.csms.server import CsmsServer
from tests.e2e.commands import (
    ENERGY,
    TAG,
    actions_since,
    calls_since,
    command,
    completed,
    configure,
    mark,
    normalised,
    periodic_samples,
    reading,
    readings,
    run,
    sample_every_second,
    start_transaction_answer,
    statuses_since,
    transaction_events,
    wait_call,
    wait_samples,
    wait_status,
)
from tests.e2e.conftest import (
    AC,
    RECONNECT,
    Api,
    Charger,
    CsmsFactory,
    Deployment,
    DeploymentFactory,
    boot,
    never,
)

HEARTBEAT = 5
"""The CSMS's heartbeat interval: the wire stays quiet while a test acts (heartbeats are left out anyway)."""

ISO14443 = {"idToken": TAG, "type": "ISO14443"}


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    return await csms_factory(heartbeat_interval=HEARTBEAT)


async def start_session(api: Api, csms: CsmsServer, cp: Charger) -> str:
    """Starts a session on connector / EVSE 1 and waits until it charges; the transaction id (as a string)."""
    since = mark(csms, cp.identity)
    await run(api, cp.id, "start-session", {"id_tag": TAG})
    if cp.version == "OCPP1.6":
        await wait_status(csms, cp.identity, since, cp.version, "Charging")
        return str(start_transaction_answer(csms, cp.identity)["transactionId"])
    [started] = await wait_call(csms, cp.identity, since, "TransactionEvent", lambda p: p["eventType"] == "Started")
    return started["transactionInfo"]["transactionId"]


def events_of(csms: CsmsServer, identity: str, transaction_id: str) -> list[dict]:
    """The TransactionEvents (2.0.1) of one transaction, in order."""
    return [p for p in transaction_events(csms, identity, 0) if p["transactionInfo"]["transactionId"] == transaction_id]


def assert_consecutive_seq_nos(events: list[dict]) -> None:
    seq_nos = [event["seqNo"] for event in events]
    assert seq_nos == list(range(seq_nos[0], seq_nos[0] + len(seq_nos))), seq_nos


# -- start-session / stop-session -----------------------------------------------------------------------------


async def test_start_session_plugs_authorizes_and_starts_a_transaction_in_order(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    since = mark(csms, cp.identity)

    queued = await command(api, cp.id, "start-session", {"id_tag": TAG})
    assert queued["event_type"] == "start_session"
    assert queued["ocpp_version"] == version.lower()
    assert queued["charger_id"] == cp.id
    assert queued["payload"] == {"id_tag": TAG, **normalised(version)}
    await completed(api, queued)

    if version == "OCPP1.6":
        await wait_status(csms, cp.identity, since, version, "Charging")
        calls = calls_since(csms, cp.identity, since)
        assert [action for action, _ in calls] == [
            "StatusNotification",
            "Authorize",
            "StartTransaction",
            "StatusNotification",
        ]
        (_, preparing), (_, authorize), (_, start), (_, charging) = calls
        assert (preparing["connectorId"], preparing["status"]) == (1, "Preparing")
        assert authorize == {"idTag": TAG}
        assert (start["connectorId"], start["idTag"]) == (1, TAG)
        assert isinstance(start["meterStart"], int) and start["meterStart"] >= 0
        assert (charging["connectorId"], charging["status"]) == (1, "Charging")
    else:
        await wait_call(csms, cp.identity, since, "TransactionEvent")
        calls = calls_since(csms, cp.identity, since)
        assert [action for action, _ in calls] == ["StatusNotification", "Authorize", "TransactionEvent"]
        (_, occupied), (_, authorize), (_, started) = calls
        assert (occupied["evseId"], occupied["connectorId"], occupied["connectorStatus"]) == (1, 1, "Occupied")
        assert authorize["idToken"] == ISO14443
        assert started["eventType"] == "Started"
        assert started["triggerReason"] == "Authorized"
        assert started["idToken"] == ISO14443
        assert started["transactionInfo"]["chargingState"] == "Charging"
        assert started["transactionInfo"]["transactionId"]
        assert started["evse"] == {"id": 1, "connectorId": 1}
        begin = reading(version, started["meterValue"], ENERGY)
        assert (begin.context, begin.unit) == ("Transaction.Begin", "Wh")


async def test_stop_session_ends_the_transaction_with_reason_local_and_the_connector_is_available_only_on_unplug(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    transaction = await start_session(api, csms, cp)
    since = mark(csms, cp.identity)

    queued = await command(api, cp.id, "stop-session")
    assert queued["event_type"] == "stop_session"
    assert queued["payload"] == normalised(version)
    await completed(api, queued)

    if version == "OCPP1.6":
        await wait_status(csms, cp.identity, since, version, "Finishing")
        calls = calls_since(csms, cp.identity, since)
        assert [action for action, _ in calls] == ["StopTransaction", "StatusNotification"]
        stop = calls[0][1]
        [start] = [p for a, p in csms.received(cp.identity) if a == "StartTransaction"]
        assert str(stop["transactionId"]) == transaction
        assert stop["reason"] == "Local"
        assert stop["meterStop"] >= start["meterStart"]
        assert stop.get("transactionData"), "StopTransaction carries transaction data"
        final = [r for r in readings(version, stop["transactionData"]) if r.measurand == ENERGY]
        assert final and final[-1].value == stop["meterStop"]
    else:
        [ended] = await wait_call(csms, cp.identity, since, "TransactionEvent", lambda p: p["eventType"] == "Ended")
        assert ended["transactionInfo"]["transactionId"] == transaction
        assert ended["transactionInfo"]["stoppedReason"] == "Local"
        events = events_of(csms, cp.identity, transaction)
        assert [e["eventType"] for e in events] == ["Started", "Ended"]
        assert_consecutive_seq_nos(events)
        begin = reading(version, events[0]["meterValue"], ENERGY).value
        assert reading(version, ended["meterValue"], ENERGY).value >= begin

    await never(
        lambda: "Available" in statuses_since(csms, cp.identity, since, version),
        duration=1.0,
        what="the connector became Available with the cable still plugged",
    )
    unplugged = mark(csms, cp.identity)
    await run(api, cp.id, "unplug-connector")
    await wait_status(csms, cp.identity, unplugged, version, "Available")
    assert [a for a in actions_since(csms, cp.identity, unplugged) if a != "StatusNotification"] == []


async def test_a_second_session_starts_a_new_transaction_where_the_register_stopped(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    first = await start_session(api, csms, cp)
    await run(api, cp.id, "stop-session")
    await run(api, cp.id, "unplug-connector")
    second = await start_session(api, csms, cp)
    await run(api, cp.id, "stop-session")

    assert second != first
    if version == "OCPP1.6":
        starts = [p for a, p in csms.received(cp.identity) if a == "StartTransaction"]
        stops = await csms.wait_for(cp.identity, "StopTransaction", count=2)
        assert [str(s["transactionId"]) for s in stops] == [first, second]
        assert starts[1]["meterStart"] == stops[0]["meterStop"]
    else:
        await wait_call(csms, cp.identity, 0, "TransactionEvent", lambda p: p["eventType"] == "Ended", count=2)
        old, new = events_of(csms, cp.identity, first), events_of(csms, cp.identity, second)
        assert [e["eventType"] for e in new] == ["Started", "Ended"]
        assert_consecutive_seq_nos(new)
        assert (
            reading(version, new[0]["meterValue"], ENERGY).value
            == reading(version, old[-1]["meterValue"], ENERGY).value
        )


async def test_rejected_id_tag_starts_no_transaction_and_the_command_fails_with_the_verdict(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=HEARTBEAT, authorize_status="Invalid")
    cp = await boot(api, csms, version, AC)
    since = mark(csms, cp.identity)

    queued = await command(api, cp.id, "start-session", {"id_tag": TAG})
    record = await api.wait_command(queued["id"])
    assert record["status"] == "failed", record
    assert record["reason"].startswith("id tag rejected"), record
    assert "Invalid" in record["reason"]

    assert "Authorize" in actions_since(csms, cp.identity, since)
    if version == "OCPP1.6":
        await wait_status(csms, cp.identity, since, version, "Available")
        assert statuses_since(csms, cp.identity, since, version)[-1] == "Available"
    await never(
        lambda: {"StartTransaction", "TransactionEvent", "MeterValues"} & set(actions_since(csms, cp.identity, since)),
        duration=1.0,
        what="a transaction started for a rejected id tag",
    )


async def test_with_local_pre_authorize_a_tag_on_the_local_list_starts_without_asking_the_csms(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    pre_authorize = "LocalPreAuthorize" if version == "OCPP1.6" else "AuthCtrlr.LocalPreAuthorize"
    await configure(api, cp.id, {pre_authorize: "true"})
    listed = await api.http.post(
        f"/chargers/{cp.id}/local-auth-list", json={"list_version": 1, "entries": [{"id_tag": TAG}]}
    )
    assert listed.status_code == 200, listed.text
    since = mark(csms, cp.identity)

    await completed(api, await command(api, cp.id, "start-session", {"id_tag": TAG}))
    started = "StartTransaction" if version == "OCPP1.6" else "TransactionEvent"
    await wait_call(csms, cp.identity, since, started)
    assert "Authorize" not in actions_since(csms, cp.identity, since)

    # a tag the charger does not hold still goes to the CSMS
    await completed(api, await command(api, cp.id, "stop-session"))
    other = mark(csms, cp.identity)
    await completed(api, await command(api, cp.id, "authorize-id-tag", {"id_tag": "TAG-NOT-LISTED"}))
    assert "Authorize" in actions_since(csms, cp.identity, other)


async def test_a_start_transaction_the_csms_rejects_fails_with_the_verdict_and_nothing_charges(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=HEARTBEAT, authorize_status="Invalid")
    cp = await boot(api, csms, version, AC)
    since = mark(csms, cp.identity)

    queued = await command(api, cp.id, "start-transaction", {"id_tag": TAG})
    record = await api.wait_command(queued["id"])
    assert record["status"] == "failed", record
    assert record["reason"].startswith("id tag rejected"), record
    assert "Invalid" in record["reason"]

    await never(
        lambda: (
            "MeterValues" in actions_since(csms, cp.identity, since)
            or "Charging" in statuses_since(csms, cp.identity, since, version)
        ),
        duration=1.0,
        what="charging with a rejected id tag",
    )
    if version == "OCPP1.6":
        assert len(csms.received(cp.identity, "StartTransaction")) == 1
        for stop in csms.received(cp.identity, "StopTransaction"):  # StopTransactionOnInvalidId
            assert stop[1]["reason"] == "DeAuthorized"
    else:
        events = transaction_events(csms, cp.identity, since)
        assert [e["eventType"] for e in events][:1] == ["Started"]
        assert all(
            e["eventType"] != "Updated" or e["transactionInfo"].get("chargingState") != "Charging" for e in events
        )
        for end in [e for e in events if e["eventType"] == "Ended"]:
            assert end["transactionInfo"]["stoppedReason"] == "DeAuthorized"


# -- start-transaction / stop-transaction (raw) ----------------------------------------------------------------


async def test_start_transaction_and_stop_transaction_send_only_the_transaction_messages(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    since = mark(csms, cp.identity)

    queued = await command(api, cp.id, "start-transaction", {"id_tag": TAG})
    assert queued["event_type"] == "start_transaction"
    assert queued["payload"] == {"id_tag": TAG, **normalised(version)}
    await completed(api, queued)
    if version == "OCPP1.6":
        [start] = await wait_call(csms, cp.identity, since, "StartTransaction")
        assert (start["connectorId"], start["idTag"]) == (1, TAG)
        transaction = str(start_transaction_answer(csms, cp.identity)["transactionId"])
        expected = ["StartTransaction"]
    else:
        [started] = await wait_call(csms, cp.identity, since, "TransactionEvent")
        assert started["eventType"] == "Started"
        assert started["idToken"]["idToken"] == TAG
        transaction = started["transactionInfo"]["transactionId"]
        expected = ["TransactionEvent"]
    assert [a for a in actions_since(csms, cp.identity, since) if a != "StatusNotification"] == expected

    stopping = mark(csms, cp.identity)
    queued = await command(api, cp.id, "stop-transaction")
    assert queued["event_type"] == "stop_transaction"
    assert queued["payload"].get("transaction_id") is None
    await completed(api, queued)
    if version == "OCPP1.6":
        [stop] = await wait_call(csms, cp.identity, stopping, "StopTransaction")
        assert str(stop["transactionId"]) == transaction
        expected = ["StopTransaction"]
    else:
        [ended] = await wait_call(csms, cp.identity, stopping, "TransactionEvent")
        assert ended["eventType"] == "Ended"
        assert ended["transactionInfo"]["transactionId"] == transaction
    assert [a for a in actions_since(csms, cp.identity, stopping) if a != "StatusNotification"] == expected


async def test_stop_transaction_with_a_transaction_id_stops_that_transaction(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    await run(api, cp.id, "start-transaction", {"id_tag": TAG})
    if version == "OCPP1.6":
        await csms.wait_for(cp.identity, "StartTransaction")
        transaction = str(start_transaction_answer(csms, cp.identity)["transactionId"])
    else:
        [started] = await wait_call(csms, cp.identity, 0, "TransactionEvent")
        transaction = started["transactionInfo"]["transactionId"]
    since = mark(csms, cp.identity)

    queued = await command(api, cp.id, "stop-transaction", {"transaction_id": transaction})
    assert queued["payload"]["transaction_id"] == transaction
    await completed(api, queued)
    if version == "OCPP1.6":
        [stop] = await wait_call(csms, cp.identity, since, "StopTransaction")
        assert str(stop["transactionId"]) == transaction
    else:
        [ended] = await wait_call(csms, cp.identity, since, "TransactionEvent")
        assert (ended["eventType"], ended["transactionInfo"]["transactionId"]) == ("Ended", transaction)


async def test_stopping_without_a_transaction_in_progress_fails_as_not_possible_and_sends_nothing(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    since = mark(csms, cp.identity)

    for path in ("stop-transaction", "stop-session"):
        queued = await command(api, cp.id, path)
        record = await api.wait_command(queued["id"])
        assert record["status"] == "failed", record
        assert record["reason"].startswith("not possible"), record
    await never(
        lambda: {"StopTransaction", "TransactionEvent"} & set(actions_since(csms, cp.identity, since)),
        duration=0.5,
        what="a transaction message without a transaction",
    )


# -- authorize-id-tag ---------------------------------------------------------------------------------------------


async def test_authorize_id_tag_sends_authorize_and_nothing_else(api: Api, csms: CsmsServer, version: str) -> None:
    cp = await boot(api, csms, version, AC)
    since = mark(csms, cp.identity)

    queued = await command(api, cp.id, "authorize-id-tag", {"id_tag": TAG})
    assert queued["event_type"] == "authorize_id_tag"
    assert queued["payload"]["id_tag"] == TAG
    await completed(api, queued)
    [authorize] = await wait_call(csms, cp.identity, since, "Authorize")
    assert authorize == ({"idTag": TAG} if version == "OCPP1.6" else {"idToken": ISO14443})
    assert actions_since(csms, cp.identity, since) == ["Authorize"]


async def test_authorize_id_tag_rejected_by_the_csms_fails_with_its_verdict(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=HEARTBEAT, authorize_status="Blocked")
    cp = await boot(api, csms, version, AC)

    queued = await command(api, cp.id, "authorize-id-tag", {"id_tag": TAG})
    record = await api.wait_command(queued["id"])
    assert record["status"] == "failed", record
    assert record["reason"].startswith("id tag rejected"), record
    assert "Blocked" in record["reason"]
    assert len(csms.received(cp.identity, "Authorize")) == 1


# -- chargers that cannot take a command now ---------------------------------------------------------------------


async def test_session_commands_on_a_stopped_charger_are_refused_and_write_nothing(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    await api.lifecycle(cp.id, "stop-charger")
    await api.wait_runtime(cp.id, "stopped")

    for path, body in (("start-session", {"id_tag": TAG}), ("stop-session", {}), ("authorize-id-tag", {"id_tag": TAG})):
        refused = await command(api, cp.id, path, body, expect=400)
        assert "start the charger first" in refused["detail"]
    assert [c["event_type"] for c in (await api.commands(cp.id))["data"]] == ["stop_charger"]


async def test_a_session_requested_before_the_charger_is_connected_starts_after_its_boot(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=HEARTBEAT, accept_identities=set())
    cp = await api.create_charger(csms.url(), version, AC)

    queued = await command(api, cp.id, "start-session", {"id_tag": TAG})
    assert (await api.command(queued["id"]))["status"] == "queued"
    assert csms.received(cp.identity) == []
    csms.verdicts.accept_identities = None  # the next reconnect gets through

    await csms.wait_for(cp.identity, "BootNotification", timeout=RECONNECT + 2)
    await completed(api, queued)
    actions = [a for a, _ in csms.received(cp.identity)]
    started = "StartTransaction" if version == "OCPP1.6" else "TransactionEvent"
    assert started in actions
    assert actions.index("BootNotification") < actions.index("Authorize") < actions.index(started)


# -- a session across a gateway restart -------------------------------------------------------------------------


async def restart(gateway: Deployment) -> None:
    assert await asyncio.to_thread(gateway.stop) == [0]
    await asyncio.to_thread(gateway.start)


async def test_a_session_started_through_rest_survives_a_gateway_restart(
    csms_factory: CsmsFactory,
    deployments: DeploymentFactory,
    api_for: Callable[[Deployment], Api],
    version: str,
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    gateway = await deployments()
    api = api_for(gateway)
    cp = await boot(api, csms, version, AC)
    await sample_every_second(api, cp.id, version)
    transaction = await start_session(api, csms, cp)
    charging = "Charging" if version == "OCPP1.6" else "Occupied"
    await wait_samples(csms, cp.identity, 0, version, count=1)
    await api.wait_charger(
        cp.id,
        lambda doc: any(c["status"] == charging for c in doc.get("connectors") or []),
        what=f"a connector {charging} in the view",
    )
    since = mark(csms, cp.identity)
    before = periodic_samples(csms, cp.identity, 0, version)[-1]

    await restart(gateway)
    await csms.wait_connected(cp.identity, count=2)
    await csms.wait_for(cp.identity, "BootNotification", count=2)
    await wait_status(csms, cp.identity, since, version, charging)

    # the same transaction goes on: its meter values continue, no new transaction starts
    def same_transaction(sample: dict) -> bool:
        if version == "OCPP1.6":
            return str(sample.get("transactionId")) == transaction
        return sample["transactionInfo"]["transactionId"] == transaction

    after = (await wait_samples(csms, cp.identity, since, version, count=1))[0]
    assert same_transaction(after), after
    assert not {"StartTransaction", "Authorize"} & set(actions_since(csms, cp.identity, since))
    assert [s for s in periodic_samples(csms, cp.identity, since, version) if not same_transaction(s)] == []

    stopping = mark(csms, cp.identity)
    await run(api, cp.id, "stop-session")
    if version == "OCPP1.6":
        [stop] = await wait_call(csms, cp.identity, stopping, "StopTransaction")
        assert str(stop["transactionId"]) == transaction
        assert stop["reason"] == "Local"
        assert stop["meterStop"] >= reading(version, before["meterValue"], ENERGY).value
    else:
        [ended] = await wait_call(csms, cp.identity, stopping, "TransactionEvent", lambda p: p["eventType"] == "Ended")
        assert ended["transactionInfo"]["transactionId"] == transaction
        assert ended["transactionInfo"]["stoppedReason"] == "Local"
        assert not [e for e in transaction_events(csms, cp.identity, since) if e["eventType"] == "Started"]
        seq_nos = [e["seqNo"] for e in events_of(csms, cp.identity, transaction)]
        assert seq_nos == sorted(set(seq_nos)), f"seqNo must keep increasing across the restart: {seq_nos}"
        assert (
            reading(version, ended["meterValue"], ENERGY).value >= reading(version, before["meterValue"], ENERGY).value
        )
