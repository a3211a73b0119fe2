"""Reservations on the wire, both OCPP versions, against the schema-validating CSMS: a reserved connector shows
Reserved and starts only for its holder (the start names the reservation), a reservation expires at its expiry,
and the API's reserve-now / cancel-reservation commands do what the CSMS's would."""

from __future__ import annotations

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from adapters.csms.server import CsmsServer
from tests.e2e.commands import command, completed, mark, run, selection, wait_call, wait_status
from tests.e2e.conftest import AC, Api, Charger, CsmsFactory, boot
from tests.e2e.test_simulator_csms_calls_16 import later

HOLDER, STRANGER = "TAG-HOLDER", "TAG-STRANGER"


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    return await csms_factory(heartbeat_interval=5)


@pytest.fixture
async def cp(api: Api, csms: CsmsServer, version: str) -> Charger:
    return await boot(api, csms, version, AC)


async def reserve(csms: CsmsServer, cp: Charger, reservation_id: int, seconds: int, connector: int = 1) -> str:
    """The CSMS's ReserveNow for HOLDER; its status."""
    if cp.version == "OCPP1.6":
        request = call16.ReserveNow(
            connector_id=connector, expiry_date=later(seconds), id_tag=HOLDER, reservation_id=reservation_id
        )
    else:
        request = call201.ReserveNow(
            id=reservation_id,
            expiry_date_time=later(seconds),
            id_token={"id_token": HOLDER, "type": "ISO14443"},
            evse_id=connector or None,
        )
    return (await csms.call(cp.identity, request)).status


async def test_a_reserved_connector_refuses_another_tag_and_starts_for_its_holder_naming_the_reservation(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    since = mark(csms, cp.identity)
    assert await reserve(csms, cp, 41, 3600) == "Accepted"
    await wait_status(csms, cp.identity, since, version, "Reserved")

    refused = await command(api, cp.id, "start-session", {"id_tag": STRANGER})
    record = await api.wait_command(refused["id"])
    assert record["status"] == "failed"
    assert "reservation 41" in record["reason"], record

    started = mark(csms, cp.identity)
    await run(api, cp.id, "start-session", {"id_tag": HOLDER})
    if version == "OCPP1.6":
        [start] = await wait_call(csms, cp.identity, started, "StartTransaction")
        assert (start["idTag"], start["reservationId"]) == (HOLDER, 41)
    else:
        [event] = await wait_call(
            csms, cp.identity, started, "TransactionEvent", lambda p: p.get("reservationId") is not None
        )
        assert event["reservationId"] == 41
    cancelled = await csms.call(
        cp.identity,
        call16.CancelReservation(reservation_id=41)
        if version == "OCPP1.6"
        else call201.CancelReservation(reservation_id=41),
    )
    assert cancelled.status == "Rejected", "a used reservation is gone"


async def test_a_reservation_expires_at_its_expiry_and_the_connector_is_available_again(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    since = mark(csms, cp.identity)
    assert await reserve(csms, cp, 42, 2) == "Accepted"
    await wait_status(csms, cp.identity, since, version, "Reserved")
    await wait_status(csms, cp.identity, since, version, "Available")
    if version == "OCPP2.0.1":
        [update] = await wait_call(csms, cp.identity, since, "ReservationStatusUpdate")
        assert update == {"reservationId": 42, "reservationUpdateStatus": "Expired"}
    await run(api, cp.id, "start-session", {"id_tag": STRANGER})  # nothing holds the connector any more


async def test_reserve_now_and_cancel_reservation_through_the_api(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    since = mark(csms, cp.identity)
    queued = await command(api, cp.id, "reserve-now", {"id_tag": HOLDER, "reservation_id": 7, **selection(version)})
    assert queued["event_type"] == "reserve_now"
    result = (await completed(api, queued))["result"]
    assert (result["reservation_id"], result["status"]) == (7, "Accepted")
    await wait_status(csms, cp.identity, since, version, "Reserved")

    second = await command(api, cp.id, "reserve-now", {"id_tag": STRANGER, **selection(version)})
    record = await api.wait_command(second["id"])
    assert (record["status"], record["reason"]) == ("failed", "reservation refused: Occupied")

    cancelling = mark(csms, cp.identity)
    await run(api, cp.id, "cancel-reservation", {"reservation_id": 7})
    await wait_status(csms, cp.identity, cancelling, version, "Available")
    if version == "OCPP2.0.1":
        [update] = await wait_call(csms, cp.identity, cancelling, "ReservationStatusUpdate")
        assert update["reservationUpdateStatus"] == "Removed"
    unknown = await command(api, cp.id, "cancel-reservation", {"reservation_id": 7})
    assert (await api.wait_command(unknown["id"]))["reason"] == "not possible: no reservation 7"

    bad = await api.http.post(f"/chargers/{cp.id}/reserve-now", json={"id_tag": HOLDER, "expiry_date": "soon"})
    assert bad.status_code == 422
