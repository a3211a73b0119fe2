"""Gateway restarts: SIGTERM closes every charger cleanly; on the same data dir, running chargers come back by
themselves with their state, stopped chargers stay stopped, and the log lives on."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from websockets.asyncio.server import ServerConnection, serve

from tests.e2e.conftest import (
    AC,
    DC,
    Api,
    CsmsFactory,
    Deployment,
    DeploymentFactory,
    boot,
    eventually,
    frames_of,
    never,
    reported_connectors,
)

EV_TIMEOUT = {"component": {"name": "TxCtrlr"}, "variable": {"name": "EVConnectionTimeOut"}}


@pytest.mark.parametrize("layout", ["serve", "split"])
async def test_after_sigterm_and_a_restart_running_chargers_come_back_with_their_state_and_stopped_ones_stay_down(
    csms_factory: CsmsFactory,
    deployments: DeploymentFactory,
    api_for: Callable[[Deployment], Api],
    layout: str,
) -> None:
    csms = await csms_factory(heartbeat_interval=30)  # a quiet wire: nothing is in flight when the gateway stops
    gateway = await deployments(layout=layout)
    api = api_for(gateway)
    cp16 = await boot(api, csms, "OCPP1.6", AC)
    cp201 = await boot(api, csms, "OCPP2.0.1", DC)
    stopped = await boot(api, csms, "OCPP1.6", AC)
    await api.lifecycle(stopped.id, "stop-charger")
    await api.wait_runtime(stopped.id, "stopped")

    local_list = call16.SendLocalList(
        list_version=5,
        update_type="Full",
        local_authorization_list=[{"id_tag": "TAG", "id_tag_info": {"status": "Accepted"}}],
    )
    assert (await csms.call(cp16.identity, local_list)).status == "Accepted"
    change = call16.ChangeConfiguration(key="MeterValueSampleInterval", value="17")
    assert (await csms.call(cp16.identity, change)).status == "Accepted"
    set_timeout = call201.SetVariables(set_variable_data=[{**EV_TIMEOUT, "attribute_value": "45"}])
    assert (await csms.call(cp201.identity, set_timeout)).set_variable_result[0]["attribute_status"] == "Accepted"
    sessions = {c.identity: csms.sessions[c.identity] for c in (cp16, cp201)}

    codes = await asyncio.to_thread(gateway.stop)
    assert codes == [0] * len(codes), gateway.logs()
    for identity, session in sessions.items():
        await eventually(session.closed.is_set, timeout=2, what=f"{identity} closed")
        assert session.websocket.close_code == 1000, identity  # a clean close, not a dropped connection

    await asyncio.to_thread(gateway.start)
    for charger in (cp16, cp201):
        again = await csms.wait_connected(charger.identity, count=2)
        assert again.ocpp_version == charger.version.lower()
        await csms.wait_for(charger.identity, "BootNotification", count=2)
        await csms.wait_for(
            charger.identity, "StatusNotification", count=2 * reported_connectors(charger.version, charger.model)
        )
        await api.wait_runtime(charger.id, "booted")

    assert (await csms.call(cp16.identity, call16.GetLocalListVersion())).list_version == 5
    configured = await csms.call(cp16.identity, call16.GetConfiguration(key=["MeterValueSampleInterval"]))
    assert configured.configuration_key[0]["value"] == "17"
    variables = await csms.call(cp201.identity, call201.GetVariables(get_variable_data=[EV_TIMEOUT]))
    assert variables.get_variable_result[0]["attribute_value"] == "45"

    await never(lambda: csms.connection_count(stopped.identity) > 1, duration=1.5, what="a stopped charger came back")
    doc = await api.charger(stopped.id)
    assert (doc["runtime_status"], doc["desired_state"]) == ("stopped", "stopped")

    for charger in (cp16, cp201):  # every frame of both gateway lives, in order
        await api.wait_logged(charger.id, frames_of(csms, charger.identity))


async def test_sigterm_while_a_charger_is_still_closing_its_connection_exits_cleanly_and_in_time(
    csms_factory: CsmsFactory, deployments: DeploymentFactory, api_for: Callable[[Deployment], Api]
) -> None:
    async def frozen(websocket: ServerConnection) -> None:  # accepts, then never reads (nor answers) again
        websocket.transport.pause_reading()
        await websocket.wait_closed()  # the server's close aborts it after its close_timeout

    csms = await csms_factory(heartbeat_interval=30)
    gateway = await deployments()
    api = api_for(gateway)
    healthy = await boot(api, csms, "OCPP1.6", AC)
    session = csms.sessions[healthy.identity]
    async with serve(frozen, "127.0.0.1", 0, subprotocols=["ocpp1.6"], close_timeout=0.5) as server:
        port = server.sockets[0].getsockname()[1]
        closing = await api.create_charger(f"ws://127.0.0.1:{port}/ocpp", "OCPP1.6", AC)
        await api.wait_runtime(closing.id, "connected")
        await api.lifecycle(closing.id, "stop-charger")  # its close handshake now waits for an answer that never comes
        await asyncio.sleep(1)

        codes = await asyncio.to_thread(gateway.stop, signal.SIGTERM, 10)  # its 5 s close timeout, and a margin
        assert codes == [0]
    await eventually(session.closed.is_set, timeout=2, what="the healthy charger closed")
    assert session.websocket.close_code == 1000
