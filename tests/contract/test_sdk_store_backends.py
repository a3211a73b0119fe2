"""A short life cycle through the SDK on a fresh server, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from ocpplab import OcpplabApi
from ocpplab.errors import BadRequestError, NotFoundError
from ocpplab.types import Coordinates, CreateChargerRequest, UpdateLocationChargerItem

from tests.contract.sdk import NO_RETRY, PULSAR_PLUS, SDK_TIMEOUT, SITE, TERRA_184, desired, new_org
from tests.support import GatewayProcess, token


@pytest.fixture
def user_of(gateway_process: GatewayProcess) -> Iterator[Callable[[str], OcpplabApi]]:
    """SDK clients of the server under test, each a user of the given tenant."""
    pools: list[httpx.Client] = []

    def build(org: str) -> OcpplabApi:
        pools.append(httpx.Client(timeout=SDK_TIMEOUT))
        return OcpplabApi(base_url=gateway_process.base_url, token=token(org), httpx_client=pools[-1])

    yield build
    for pool in pools:
        pool.close()


def test_locations_and_chargers_are_created_read_updated_and_deleted(user_of: Callable[[str], OcpplabApi]) -> None:
    sdk = user_of(new_org())
    stranger = user_of(new_org())

    location = sdk.locations.create_location(**SITE, timezone="Europe/Paris")
    assert sdk.locations.get_location(location.id) == location
    moved = sdk.locations.update_location(location.id, coordinates=Coordinates(latitude=45.76, longitude=4.84))
    assert (moved.coordinates.latitude, moved.coordinates.longitude, moved.name) == (45.76, 4.84, location.name)

    charger = sdk.charger_deployments.create_charger(**PULSAR_PLUS, identity="CP-FLOW", location_id=location.id)
    assert desired(
        sdk.charger_deployments.create_charger(**PULSAR_PLUS, identity="CP-FLOW", location_id=location.id)
    ) == desired(charger)
    with pytest.raises(BadRequestError):
        sdk.charger_deployments.create_charger(
            **TERRA_184, identity="CP-FLOW", location_id=location.id, request_options=NO_RETRY
        )
    renamed = sdk.charger_deployments.update_charger(charger.id, name="Bay 1", ocpp_version="OCPP2.0.1")
    assert (renamed.name, renamed.ocpp_version, renamed.identity) == ("Bay 1", "OCPP2.0.1", "CP-FLOW")
    assert desired(sdk.charger_deployments.get_charger(charger.id)) == desired(renamed)
    listed = sdk.charger_deployments.list_chargers(location_id=location.id)
    assert (listed.total, [c.id for c in listed.data]) == (1, [charger.id])
    assert stranger.charger_deployments.list_chargers().total == 0
    with pytest.raises(NotFoundError):
        stranger.charger_deployments.get_charger(charger.id, request_options=NO_RETRY)

    sdk.charger_deployments.delete_charger(charger.id)
    with pytest.raises(NotFoundError):
        sdk.charger_deployments.get_charger(charger.id, request_options=NO_RETRY)
    sdk.locations.delete_location(location.id)
    with pytest.raises(NotFoundError):
        sdk.locations.get_location(location.id, request_options=NO_RETRY)
    assert sdk.locations.list_locations().total == 0


def test_location_provisioning_succeeds_per_item_and_frees_deleted_identities(
    user_of: Callable[[str], OcpplabApi],
) -> None:
    sdk = user_of(new_org())
    location = sdk.locations.create_location(**SITE)
    provisioning = sdk.location_charger_provisioning

    created = provisioning.create_location_chargers(
        location.id,
        chargers=[
            CreateChargerRequest(**PULSAR_PLUS, identity="CP-1"),
            CreateChargerRequest(**PULSAR_PLUS, identity="CP-1", charge_point_name="Clash"),
            CreateChargerRequest(**TERRA_184, identity="CP-2"),
        ],
    )
    assert (created.created_count, created.failed_count) == (2, 1)
    assert [failure.identity for failure in created.failed] == ["CP-1"]
    first, second = created.created

    updated = provisioning.update_location_chargers(
        location.id,
        chargers=[
            UpdateLocationChargerItem(charger_id=second.id, connector_type="CHAdeMO"),
            UpdateLocationChargerItem(charger_id="CP-404", name="Ghost"),
        ],
    )
    assert (updated.updated_count, updated.failed_count) == (1, 1)
    assert updated.updated[0].connector_type == "CHAdeMO"

    deleted = provisioning.delete_location_chargers(location.id, charger_ids=[first.id, "CP-404"])
    assert (deleted.deleted, deleted.failed_count) == ([first.id], 1)
    listed = provisioning.list_location_chargers(location.id)
    assert [c.id for c in listed.data] == [second.id]

    reborn = sdk.charger_deployments.create_charger(**TERRA_184, identity="CP-1", location_id=location.id)
    assert reborn.id != first.id
    [found] = provisioning.list_location_chargers(location.id, charger_ids=["CP-1"]).data
    assert desired(found) == desired(reborn)  # (its runtime fields move on their own)
