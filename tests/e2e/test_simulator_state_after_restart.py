"""What a charge point keeps across a gateway restart besides its configuration: availability and transactions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from tests.e2e.conftest import (
    AC,
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
from tests.e2e.test_simulator_csms_calls_16 import later


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


async def test_charging_profiles_and_reservations_are_still_held_after_a_gateway_restart(
    csms_factory: CsmsFactory, deployments: DeploymentFactory, api_for: Callable[[Deployment], Api]
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    gateway = await deployments()
    api = api_for(gateway)
    cp16 = await boot(api, csms, "OCPP1.6", AC)
    cp201 = await boot(api, csms, "OCPP2.0.1", AC)
    schedule = {"charging_rate_unit": "W", "charging_schedule_period": [{"start_period": 0, "limit": 5000}]}
    default16 = {"charging_profile_id": 5, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile"}
    default201 = {"id": 5, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile"}
    assert (
        await csms.call(
            cp16.identity,
            call16.SetChargingProfile(
                connector_id=0,
                cs_charging_profiles={**default16, "charging_profile_kind": "Relative", "charging_schedule": schedule},
            ),
        )
    ).status == "Accepted"
    assert (
        await csms.call(
            cp201.identity,
            call201.SetChargingProfile(
                evse_id=0,
                charging_profile={
                    **default201,
                    "charging_profile_kind": "Relative",
                    "charging_schedule": [{"id": 1, **schedule}],
                },
            ),
        )
    ).status == "Accepted"
    expiry = later(3600)
    await csms.call(
        cp16.identity, call16.ReserveNow(connector_id=1, expiry_date=expiry, id_tag="HOLDER", reservation_id=3)
    )
    await csms.call(
        cp201.identity,
        call201.ReserveNow(
            id=3, expiry_date_time=expiry, id_token={"id_token": "HOLDER", "type": "ISO14443"}, evse_id=1
        ),
    )
    for charger in (cp16, cp201):
        await csms.wait_for(charger.identity, "StatusNotification", count=reported_connectors(charger.version, AC) + 1)
    await asyncio.sleep(0.3)  # flushed

    await restart(gateway)
    for charger in (cp16, cp201):
        count = reported_connectors(charger.version, AC)
        statuses = (await csms.wait_for(charger.identity, "StatusNotification", count=2 * count + 1))[count + 1 :]
        if charger.version == "OCPP1.6":
            assert {s["connectorId"]: s["status"] for s in statuses} == {0: "Available", 1: "Reserved"}
            answer = await csms.call(
                charger.identity, call16.GetCompositeSchedule(connector_id=1, duration=60, charging_rate_unit="W")
            )
            periods = answer.charging_schedule["charging_schedule_period"]
        else:
            assert {s["evseId"]: s["connectorStatus"] for s in statuses} == {1: "Reserved"}
            answer = await csms.call(
                charger.identity, call201.GetCompositeSchedule(evse_id=1, duration=60, charging_rate_unit="W")
            )
            periods = answer.schedule["charging_schedule_period"]
        assert [float(p["limit"]) for p in periods] == [5000.0]
        view = (await api.http.get(f"/chargers/{charger.id}/charging-profiles")).json()
        assert [p["id"] for p in view["profiles"]] == [5]
