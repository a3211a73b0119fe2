"""What a charge point keeps across a gateway restart besides its configuration: availability and transactions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from tests.e2e.conftest import (
    DC,
    Api,
    CsmsFactory,
    Deployment,
    DeploymentFactory,
    boot,
    calls_from_cp,
    csms_answer_to,
    reported_connectors,
)


async def restart(gateway: Deployment) -> None:
    assert await asyncio.to_thread(gateway.stop) == [0]
    await asyncio.to_thread(gateway.start)


async def test_a_connector_made_inoperative_is_still_unavailable_after_a_gateway_restart(
    csms_factory: CsmsFactory, deployments: DeploymentFactory, api_for: Callable[[Deployment], Api]
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    gateway = await deployments()
    api = api_for(gateway)
    cp16 = await boot(api, csms, "OCPP1.6", DC)
    cp201 = await boot(api, csms, "OCPP2.0.1", DC)
    await csms.call(cp16.identity, call16.ChangeAvailability(connector_id=2, type="Inoperative"))
    await csms.call(cp201.identity, call201.ChangeAvailability(operational_status="Inoperative", evse={"id": 2}))
    await csms.wait_for(cp16.identity, "StatusNotification", count=reported_connectors("OCPP1.6", DC) + 1)
    await csms.wait_for(cp201.identity, "StatusNotification", count=reported_connectors("OCPP2.0.1", DC) + 1)
    await asyncio.sleep(0.3)  # flushed

    await restart(gateway)
    for charger in (cp16, cp201):
        count = reported_connectors(charger.version, DC)
        statuses = (await csms.wait_for(charger.identity, "StatusNotification", count=2 * count + 1))[count + 1 :]
        if charger.version == "OCPP1.6":
            assert {s["connectorId"]: s["status"] for s in statuses} == {
                0: "Available",
                1: "Available",
                2: "Unavailable",
            }
        else:
            assert {s["evseId"]: s["connectorStatus"] for s in statuses} == {1: "Available", 2: "Unavailable"}


async def test_a_transaction_in_progress_is_still_running_after_a_gateway_restart(
    csms_factory: CsmsFactory, deployments: DeploymentFactory, api_for: Callable[[Deployment], Api]
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    gateway = await deployments()
    api = api_for(gateway)
    cp16 = await boot(api, csms, "OCPP1.6", DC)
    cp201 = await boot(api, csms, "OCPP2.0.1", DC)
    await csms.call(cp16.identity, call16.RemoteStartTransaction(id_tag="TAG-KEEP", connector_id=1))
    await csms.call(
        cp201.identity,
        call201.RequestStartTransaction(id_token={"id_token": "TAG-KEEP", "type": "ISO14443"}, remote_start_id=8),
    )
    await csms.wait_for(cp16.identity, "StartTransaction")
    [started] = await csms.wait_for(cp201.identity, "TransactionEvent")
    await csms.wait_for(cp16.identity, "StatusNotification", count=reported_connectors("OCPP1.6", DC) + 2)
    tx16 = csms_answer_to(csms, cp16.identity, calls_from_cp(csms, cp16.identity, "StartTransaction")[0])[2][
        "transactionId"
    ]
    tx201 = started["transactionInfo"]["transactionId"]
    await asyncio.sleep(0.3)  # flushed

    await restart(gateway)
    for charger in (cp16, cp201):
        await csms.wait_connected(charger.identity, count=2)
        await csms.wait_for(charger.identity, "StatusNotification", count=2 * reported_connectors(charger.version, DC))

    status = await csms.call(cp201.identity, call201.GetTransactionStatus(transaction_id=tx201))
    assert status.ongoing_indicator is True
    assert (await csms.call(cp16.identity, call16.RemoteStopTransaction(transaction_id=tx16))).status == "Accepted"
    [stop] = await csms.wait_for(cp16.identity, "StopTransaction")
    assert stop["transactionId"] == tx16
