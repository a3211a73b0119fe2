"""Sessions through a CSMS outage, both OCPP versions, against the schema-validating CSMS: the charge point keeps
charging and sampling, acts on the driver's commands at once (authorizing on its own), and after the next accepted
boot delivers its transaction messages in the order they happened, with the times they happened; 2.0.1 marks them
`offline` and keeps seqNo unbroken; 1.6 transactions begun offline take the CSMS's number. The queue survives a
gateway restart, and a CallError is retried after the configured interval."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from adapters.csms.server import CsmsServer
from tests.e2e.commands import (
    TAG,
    command,
    completed,
    configure,
    energy,
    periodic_samples,
    sample_every_second,
    sampled_at,
)
from tests.e2e.conftest import (
    AC,
    Api,
    CsmsFactory,
    Deployment,
    DeploymentFactory,
    boot,
    calls_from_cp,
    csms_answer_to,
)

BACK = 20.0  # the bound of a reconnection after an outage (backoff 1, 2, 4, 8 s +-20 %)
UNKNOWN_OFFLINE = {"OCPP1.6": "AllowOfflineTxForUnknownId", "OCPP2.0.1": "AuthCtrlr.OfflineTxForUnknownIdEnabled"}
RETRY_INTERVAL = {"OCPP1.6": "TransactionMessageRetryInterval", "OCPP2.0.1": "OCPPCommCtrlr.MessageAttemptInterval"}


# -- the wire of both versions, one way --------------------------------------------------------------------------


def transaction_calls(csms: CsmsServer, identity: str) -> list[tuple[str, dict]]:
    """The transaction-related CALLs the charger sent this CSMS, in order."""
    kinds = ("StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent")
    return [(action, payload) for action, payload in csms.received(identity) if action in kinds]


def is_stop(version: str, action: str, payload: dict) -> bool:
    if version == "OCPP1.6":
        return action == "StopTransaction"
    return action == "TransactionEvent" and payload["eventType"] == "Ended"


async def wait_stop(csms: CsmsServer, identity: str, version: str, timeout: float = BACK) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stops = [p for a, p in transaction_calls(csms, identity) if is_stop(version, a, p)]
        if stops:
            return stops[-1]
        assert time.monotonic() < deadline, f"{identity}: no stop reached the CSMS within {timeout} s"
        await asyncio.sleep(0.1)


def timestamp(payload: dict) -> datetime:
    return datetime.fromisoformat(payload["timestamp"])


def boot_received_at(csms: CsmsServer, identity: str) -> datetime:
    return datetime.fromtimestamp(calls_from_cp(csms, identity, "BootNotification")[0].at, UTC)


async def outage(api: Api, csms: CsmsServer, charger_id: str) -> int:
    """Stops the CSMS; returns its port once the gateway noticed the lost connection."""
    port = csms.port
    await csms.stop()
    await api.wait_runtime(charger_id, "connecting")
    return port


LOCAL_LIST = {"list_version": 1, "entries": [{"id_tag": TAG}]}

# -- tests ---------------------------------------------------------------------------------------------------------


async def test_a_session_charges_on_through_an_outage_and_the_csms_gets_its_stop_in_order_after_the_boot(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    cp = await boot(api, csms, version, AC)
    await sample_every_second(api, cp.id, version)
    await completed(api, await command(api, cp.id, "start-session", {"id_tag": TAG}))
    await asyncio.sleep(1.5)
    online = periodic_samples(csms, cp.identity, 0, version)
    assert online, "no sample before the outage"
    before = transaction_calls(csms, cp.identity)

    port = await outage(api, csms, cp.id)
    down_at = datetime.now(UTC)
    await asyncio.sleep(2.5)  # the meter goes on: samples are taken offline
    stopped = await completed(api, await command(api, cp.id, "stop-session"), timeout=5)  # at once, offline
    assert stopped["result"]["offline"] is True, stopped
    await completed(api, await command(api, cp.id, "unplug-connector"), timeout=5)
    stopped_at = datetime.now(UTC)
    await asyncio.sleep(1.0)

    back = await csms_factory(heartbeat_interval=30, port=port)
    stop = await wait_stop(back, cp.identity, version)
    await asyncio.sleep(0.5)
    stops = [
        p
        for a, p in transaction_calls(csms, cp.identity) + transaction_calls(back, cp.identity)
        if is_stop(version, a, p)
    ]
    assert stops == [stop]  # the stop reached the CSMS once
    rebooted_at = boot_received_at(back, cp.identity)
    after = transaction_calls(back, cp.identity)
    offline_samples = [p for a, p in after if not is_stop(version, a, p)]
    assert len(offline_samples) >= 2, after  # sampled during the outage, delivered afterwards
    assert after[-1][1] == stop  # the stop comes last: the order things happened
    for sample in offline_samples:
        assert down_at.timestamp() - 1.5 <= sampled_at(version, sample).timestamp() <= stopped_at.timestamp()
    assert timestamp(stop) <= stopped_at < rebooted_at  # the time it happened, not of the reconnection
    statuses = [p for a, p in back.received(cp.identity) if a == "StatusNotification"]
    assert all((p.get("status") or p.get("connectorStatus")) == "Available" for p in statuses)  # only what is now

    register = [energy(version, s) for s in online + offline_samples]
    assert register == sorted(register) and register[-1] > register[0]  # it charged during the outage
    if version == "OCPP1.6":
        number = csms_answer_to(csms, cp.identity, calls_from_cp(csms, cp.identity, "StartTransaction")[0])[2][
            "transactionId"
        ]
        assert {p["transactionId"] for p in offline_samples} == {number}
        assert stop["transactionId"] == number and stop["reason"] == "Local"
        assert stop["meterStop"] >= register[-1]
    else:
        assert all(p.get("offline") is True for p in [*offline_samples, stop])
        assert not any(p.get("offline") for _, p in before)
        seq = sorted({p["seqNo"] for _, p in before + after})  # (a sample in flight at the cut may come twice)
        assert seq == list(range(len(seq))), seq  # unbroken across the outage
        assert stop["transactionInfo"]["stoppedReason"] == "Local"


async def test_offline_a_listed_tag_starts_at_once_an_unknown_one_is_refused_and_the_csms_learns_the_session_later(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    cp = await boot(api, csms, version, AC)
    await sample_every_second(api, cp.id, version)
    listed = await api.http.post(f"/chargers/{cp.id}/local-auth-list", json=LOCAL_LIST)
    assert listed.status_code == 200, listed.text
    port = await outage(api, csms, cp.id)

    refused = await api.wait_command((await command(api, cp.id, "start-session", {"id_tag": "TAG-STRANGER"}))["id"])
    assert refused["status"] == "failed", refused
    assert refused["reason"] == "id tag rejected: Invalid (offline, by the unknown tag rule)", refused
    started = await completed(api, await command(api, cp.id, "start-session", {"id_tag": TAG}), timeout=5)
    assert started["result"]["offline"] is True, started
    await asyncio.sleep(2.2)
    await completed(api, await command(api, cp.id, "stop-session"), timeout=5)
    stopped_at = datetime.now(UTC)

    back = await csms_factory(heartbeat_interval=30, port=port)
    stop = await wait_stop(back, cp.identity, version)
    calls = transaction_calls(back, cp.identity)
    assert "Authorize" not in [a for a, _ in back.received(cp.identity)]
    if version == "OCPP1.6":
        (first, start), *rest = calls
        assert first == "StartTransaction" and start["idTag"] == TAG
        number = csms_answer_to(back, cp.identity, calls_from_cp(back, cp.identity, "StartTransaction")[0])[2][
            "transactionId"
        ]
        assert [a for a, _ in rest][-1] == "StopTransaction" and {a for a, _ in rest[:-1]} == {"MeterValues"}
        assert {p["transactionId"] for _, p in rest} == {number}  # numbered by the CSMS after the fact
    else:
        (_, start), *_ = calls
        assert start["eventType"] == "Started" and start["idToken"]["idToken"] == TAG
        assert all(p["offline"] is True for _, p in calls)
        assert {p["transactionInfo"]["transactionId"] for _, p in calls} == {started["result"]["transaction_id"]}
        assert [p["seqNo"] for _, p in calls] == list(range(len(calls)))
    assert timestamp(start) < timestamp(stop) <= stopped_at < boot_received_at(back, cp.identity)


async def test_an_unknown_tag_allowed_offline_charges_until_the_csms_refuses_it_after_the_reconnection(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    cp = await boot(api, csms, version, AC)
    await configure(api, cp.id, {UNKNOWN_OFFLINE[version]: "true"})
    port = await outage(api, csms, cp.id)
    started = await completed(api, await command(api, cp.id, "start-session", {"id_tag": "TAG-STRANGER"}), timeout=5)
    assert started["result"]["offline"] is True

    back = await csms_factory(heartbeat_interval=30, port=port, authorize_status="Invalid")
    stop = await wait_stop(back, cp.identity, version)
    if version == "OCPP1.6":
        assert stop["reason"] == "DeAuthorized"
        number = csms_answer_to(back, cp.identity, calls_from_cp(back, cp.identity, "StartTransaction")[0])[2][
            "transactionId"
        ]
        assert stop["transactionId"] == number
    else:
        assert stop["transactionInfo"]["stoppedReason"] == "DeAuthorized"
        assert stop.get("offline") is None  # this one happened online, after the verdict


async def test_a_transaction_message_the_csms_refuses_is_sent_again_after_the_retry_interval(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    action = "StopTransaction" if version == "OCPP1.6" else "TransactionEvent"
    csms = await csms_factory(heartbeat_interval=30)
    cp = await boot(api, csms, version, AC)
    await configure(api, cp.id, {RETRY_INTERVAL[version]: "1"})
    await completed(api, await command(api, cp.id, "start-session", {"id_tag": TAG}))
    csms.verdicts.refuse[action] = 1
    queued = await command(api, cp.id, "stop-session")
    record = await api.wait_command(queued["id"])
    assert record["status"] == "completed", record  # it stopped here; the queue delivers the stop later

    deadline = time.monotonic() + 5
    while len([p for a, p in transaction_calls(csms, cp.identity) if is_stop(version, a, p)]) < 2:
        assert time.monotonic() < deadline, "the refused stop was not sent again"
        await asyncio.sleep(0.1)
    first, second = [f for f in calls_from_cp(csms, cp.identity, action)][-2:]
    assert 0.8 <= second.at - first.at <= 3.0  # after TransactionMessageRetryInterval x 1 attempt
    assert csms_answer_to(csms, cp.identity, first)[0] == 4  # the first was refused
    assert csms_answer_to(csms, cp.identity, second)[0] == 3  # the second processed
    assert csms.verdicts.refuse[action] == 0


async def test_what_waited_in_the_queue_survives_a_gateway_restart(
    csms_factory: CsmsFactory, deployments: DeploymentFactory, api_for: Callable[[Deployment], Api], version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    gateway = await deployments()
    api = api_for(gateway)
    cp = await boot(api, csms, version, AC)
    listed = await api.http.post(f"/chargers/{cp.id}/local-auth-list", json=LOCAL_LIST)
    assert listed.status_code == 200, listed.text
    port = await outage(api, csms, cp.id)
    await completed(api, await command(api, cp.id, "start-session", {"id_tag": TAG}), timeout=5)
    await asyncio.sleep(0.5)
    await completed(api, await command(api, cp.id, "stop-session"), timeout=5)
    await asyncio.sleep(0.3)  # flushed

    assert await asyncio.to_thread(gateway.stop) == [0]
    await asyncio.to_thread(gateway.start)
    back = await csms_factory(heartbeat_interval=30, port=port)
    stop = await wait_stop(back, cp.identity, version)
    calls = transaction_calls(back, cp.identity)
    if version == "OCPP1.6":
        assert [a for a, _ in calls] == ["StartTransaction", "StopTransaction"]
        number = csms_answer_to(back, cp.identity, calls_from_cp(back, cp.identity, "StartTransaction")[0])[2][
            "transactionId"
        ]
        assert stop["transactionId"] == number
    else:
        assert [p["eventType"] for _, p in calls] == ["Started", "Ended"]
        assert [p["seqNo"] for _, p in calls] == [0, 1]
    await asyncio.sleep(1.0)
    assert len(transaction_calls(back, cp.identity)) == len(calls)  # each delivered once
