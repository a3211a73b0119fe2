"""Malformed or schema-invalid frames from the CSMS: the proper CallError, the same connection, heartbeats go on."""

from __future__ import annotations

import pytest

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import AC, Api, CsmsFactory, boot, csms_calls_after, frames_of, last_frame, parsed

RPC_ERRORS = {
    "FormationViolation",
    "FormatViolation",
    "ProtocolError",
    "PropertyConstraintViolation",
    "OccurrenceConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "NotImplemented",
    "NotSupported",
    "RpcFrameworkError",
}

GARBAGE = {
    "not-json": ("not json", None),
    "call-without-action": ('[2,"x"]', "x"),
    "heartbeat-with-a-bad-payload": ('[2,"id1","Heartbeat",{"bad":1}]', "id1"),
    "json-object": ("{}", None),
}
"""raw frame -> the message id a CallError must carry (None: no id can be read)."""

SCHEMA_INVALID = {
    "OCPP1.6": '[2,"id2","ChangeConfiguration",{"key":"HeartbeatInterval"}]',  # value is required
    "OCPP2.0.1": '[2,"id2","GetVariables",{"getVariableData":"all"}]',  # must be an array
}


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    return await csms_factory(heartbeat_interval=1)


async def garbage_then_heartbeat(csms: CsmsServer, identity: str, raw: str) -> list[list]:
    """Sends `raw` to a booted charger; the frames the charger sent after it, parsed, once the next heartbeat was
    answered."""
    session = csms.sessions[identity]
    await csms.send_raw(identity, raw)
    marker = last_frame(csms, identity)
    assert marker.raw == raw
    await csms_calls_after(csms, identity, marker, "Heartbeat", timeout=3)
    assert csms.sessions[identity] is session  # the SAME connection
    assert csms.connection_count(identity) == 1
    frames = frames_of(csms, identity)
    after = frames[frames.index(marker) + 1 :]
    return [
        message for frame in after if frame.direction == "cp_to_csms" and isinstance(message := parsed(frame), list)
    ]


@pytest.mark.parametrize("name", GARBAGE)
async def test_a_garbage_frame_gets_a_call_error_where_an_id_is_readable_and_the_connection_and_heartbeat_stay(
    api: Api, csms: CsmsServer, version: str, name: str
) -> None:
    raw, message_id = GARBAGE[name]
    charger = await boot(api, csms, version, AC)
    sent = await garbage_then_heartbeat(csms, charger.identity, raw)

    errors = [message for message in sent if message[0] == 4]
    if message_id is not None:
        [error] = [e for e in errors if e[1] == message_id]
        assert len(error) == 5
        assert error[2] in RPC_ERRORS
        assert isinstance(error[3], str) and isinstance(error[4], dict)
    for error in errors:  # an id that cannot be read is "-1" (OCPP-J), never something made up
        assert error[1] in (message_id, "-1")
        assert error[2] in RPC_ERRORS
    assert all(message[0] != 3 for message in sent)  # garbage is never answered as a success
    assert (await api.charger(charger.id))["runtime_status"] == "booted"


async def test_a_schema_invalid_call_gets_a_schema_call_error_and_changes_nothing(
    api: Api, csms: CsmsServer, version: str
) -> None:
    raw = SCHEMA_INVALID[version]
    charger = await boot(api, csms, version, AC)
    sent = await garbage_then_heartbeat(csms, charger.identity, raw)

    [error] = [message for message in sent if message[0] == 4]
    assert error[1] == "id2"
    expected = {"FormationViolation", "OccurrenceConstraintViolation", "OccurenceConstraintViolation", "ProtocolError"}
    if version == "OCPP2.0.1":
        expected = {"FormatViolation", "TypeConstraintViolation", "ProtocolError"}
    assert error[2] in expected
    heartbeats = [m for m in sent if m[0] == 2 and m[2] == "Heartbeat"]
    assert heartbeats  # still every second: the interval did not change
