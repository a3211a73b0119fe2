"""The frame log: every frame the CSMS saw is in GET /chargers/{id}/logs, in order, exactly, with its action."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from ocpp.exceptions import OCPPError
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import (
    AC,
    DC,
    Api,
    CsmsFactory,
    boot,
    charger_answer_to_last,
    csms_calls_after,
    frames_of,
    next_heartbeat,
    send_raw_answered,
)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_actions(entries: list[dict[str, Any]]) -> None:
    """CALL entries carry their action; CALLRESULT / CALLERROR entries the action of the CALL they answer;
    frames that are no OCPP message carry none."""
    open_calls: dict[tuple[str, str], str] = {}  # (direction of the call, message id) -> action
    for entry in entries:
        try:
            message = json.loads(entry["message"])
        except ValueError:
            message = None
        if not (isinstance(message, list) and len(message) >= 3 and message[0] in (2, 3, 4)):
            assert entry["action"] == "", entry
            continue
        assert entry["message_id"] == str(message[1]), entry
        if message[0] == 2:
            assert entry["action"] == message[2], entry
            open_calls[(entry["direction"], str(message[1]))] = message[2]
        else:
            other = "csms_to_cp" if entry["direction"] == "cp_to_csms" else "cp_to_csms"
            assert entry["action"] == open_calls.pop((other, str(message[1])), ""), entry


async def test_the_log_holds_every_frame_the_csms_saw_in_order_with_exact_text_direction_and_action(
    api: Api, csms: CsmsServer, version: str
) -> None:
    charger = await boot(api, csms, version, DC)
    identity = charger.identity
    v16 = version == "OCPP1.6"

    await next_heartbeat(csms, identity)  # CSMS calls right after a heartbeat: nothing crosses on the wire
    if v16:
        await csms.call(identity, call16.GetConfiguration(key=["HeartbeatInterval", "NoSuchKey"]))
        await csms.call(identity, call16.TriggerMessage(requested_message="StatusNotification", connector_id=1))
    else:
        variable = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        await csms.call(identity, call201.GetVariables(get_variable_data=[variable]))
        await csms.call(identity, call201.TriggerMessage(requested_message="StatusNotification", evse={"id": 1}))
    await csms_calls_after(
        csms, identity, charger_answer_to_last(csms, identity, "TriggerMessage"), "StatusNotification"
    )
    await next_heartbeat(csms, identity)
    for garbage in ("not json", '[2,"garbage-1","ClearCache",{"bad":1}]'):
        await send_raw_answered(csms, identity, garbage)
    await next_heartbeat(csms, identity)
    with pytest.raises(OCPPError):
        await csms.call(
            identity,
            call16.GetInstalledCertificateIds("V2GRootCertificate")
            if v16
            else call201.GetDisplayMessages(request_id=1),
        )
    await next_heartbeat(csms, identity)

    frames = frames_of(csms, identity)
    log = await api.wait_logged(charger.id, frames)
    entries = log[: len(frames)]
    assert [(e["direction"], e["message"]) for e in entries] == [(f.direction, f.raw) for f in frames]
    check_actions(entries)
    assert {e["direction"] for e in entries} == {"cp_to_csms", "csms_to_cp"}
    heartbeat_results = [e for e in entries if e["action"] == "Heartbeat" and e["direction"] == "csms_to_cp"]
    assert heartbeat_results and all(json.loads(e["message"])[0] == 3 for e in heartbeat_results)
    timestamps = [moment(e["timestamp"]) for e in log]
    assert timestamps == sorted(timestamps)
    doc = await api.charger(charger.id)
    assert moment(doc["last_frame_at"]) >= timestamps[len(frames) - 1]


async def test_the_log_filters_by_action_and_time_and_pages_with_limit_offset_and_total(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=1)
    charger = await boot(api, csms, version, AC)
    await csms.wait_for(charger.identity, "Heartbeat", count=2)
    await api.lifecycle(charger.id, "stop-charger")
    await api.wait_runtime(charger.id, "stopped")  # nothing moves on the wire any more
    frames = frames_of(csms, charger.identity)
    await api.wait_logged(charger.id, frames)

    everything = await api.logs(charger.id, limit=1000)
    full = everything["data"]
    assert everything["total"] == len(full) == len(frames)
    assert (everything["limit"], everything["offset"]) == (1000, 0)
    assert len((await api.logs(charger.id))["data"]) == min(100, len(full))  # the default limit is 100

    page = await api.logs(charger.id, limit=3, offset=2)
    assert page["data"] == full[2:5]
    assert (page["total"], page["limit"], page["offset"]) == (len(full), 3, 2)
    beyond = await api.logs(charger.id, offset=len(full))
    assert (beyond["data"], beyond["total"]) == ([], len(full))

    heartbeats = await api.logs(charger.id, event="Heartbeat")
    expected = [e for e in full if e["action"] == "Heartbeat"]
    assert heartbeats["data"] == expected
    assert heartbeats["total"] == len(expected) >= 4
    assert [e["direction"] for e in expected[:4]] == ["cp_to_csms", "csms_to_cp"] * 2
    boots = await api.logs(charger.id, event="BootNotification", limit=1, offset=1)
    assert boots["total"] == 2
    assert [json.loads(e["message"])[0] for e in boots["data"]] == [3]
    assert (await api.logs(charger.id, event="NoSuchAction"))["total"] == 0

    start, end = full[2]["timestamp"], full[5]["timestamp"]
    window = await api.logs(charger.id, start_date=start, end_date=end)
    assert window["data"] == [e for e in full if moment(start) <= moment(e["timestamp"]) <= moment(end)]
    assert window["data"][0] == full[2] and window["data"][-1] == full[5]  # both bounds are inclusive
    assert window["total"] == len(window["data"])
    since = await api.logs(charger.id, start_date=full[-1]["timestamp"])
    assert since["data"] == [full[-1]]
    before_everything = await api.logs(charger.id, end_date="2000-01-01T00:00:00Z")
    assert (before_everything["data"], before_everything["total"]) == ([], 0)
    heartbeats_in_window = await api.logs(charger.id, event="Heartbeat", start_date=expected[1]["timestamp"])
    assert heartbeats_in_window["data"] == expected[1:]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"offset": -1}, {"start_date": "yesterday"}],
    ids=["limit-0", "limit-1001", "negative-offset", "bad-date"],
)
async def test_bad_log_queries_are_refused_with_422(api: Api, csms: CsmsServer, params: dict[str, Any]) -> None:
    charger = await api.create_charger(csms.url(), "OCPP1.6", AC)
    response = await api.http.get(f"/chargers/{charger.id}/logs", params=params)
    assert response.status_code == 422, response.text


async def test_the_log_of_an_unknown_charger_is_404(api: Api) -> None:
    response = await api.http.get("/chargers/00000000-0000-0000-0000-000000000000/logs")
    assert response.status_code == 404
