"""Bearer tokens and tenancy through the SDK (api.md section 2): who may call, and for which tenant."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from ocpplab import OcpplabApi
from ocpplab.core.api_error import ApiError
from ocpplab.errors import ForbiddenError, NotFoundError, UnauthorizedError
from ocpplab.types import ChargerResponse, CreateChargerRequest, LocationResponse, UpdateLocationChargerItem

from adapters.tokens import mint
from tests.contract.sdk import NO_RETRY, PULSAR_PLUS, SITE, desired, new_org
from tests.support import SECRET, token


def signed(claims: dict[str, Any], secret: str = SECRET) -> str:
    """A token with exactly these claims (plus sub, iat and a valid exp), HS256-signed with `secret`."""
    now = int(time.time())
    claims = {"sub": "tester", "iat": now, "exp": now + 3600, **claims}
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret))


def unsigned(claims: dict[str, Any]) -> str:
    """An 'alg: none' token: claims anyone can write."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


BAD_BEARERS = {
    "no token": None,
    "expired token": token("org-expired", ttl=-3600),
    "wrongly signed token": mint("another-secret-" + "y" * 40, "org-forged"),
    "unsigned token": unsigned({"sub": "x", "role": "admin", "exp": int(time.time()) + 3600}),
    "not a JWT": "definitely-not-a-jwt",
    "unknown role": signed({"role": "root", "org_id": "org-root"}),
    "user token without org claim": signed({"role": "user"}),
}

UNKNOWN_LOCATION = "00000000-0000-4000-8000-000000000000"


def tenant_calls(sdk: Callable[[], OcpplabApi], location_id: str = UNKNOWN_LOCATION) -> dict[str, Callable[[], Any]]:
    """One call per tenant-scoped route, each on a fresh client: a refused POST can spoil its connection for the
    next call (the server bug shown in test_sdk_keep_alive.py)."""
    return {
        "list_locations": lambda: sdk().locations.list_locations(request_options=NO_RETRY),
        "create_location": lambda: sdk().locations.create_location(**SITE, request_options=NO_RETRY),
        "get_location": lambda: sdk().locations.get_location(location_id, request_options=NO_RETRY),
        "update_location": lambda: sdk().locations.update_location(location_id, name="x", request_options=NO_RETRY),
        "delete_location": lambda: sdk().locations.delete_location(location_id, request_options=NO_RETRY),
        "list_chargers": lambda: sdk().charger_deployments.list_chargers(request_options=NO_RETRY),
        "create_charger": lambda: sdk().charger_deployments.create_charger(
            **PULSAR_PLUS, identity="CP-AUTH", location_id=location_id, request_options=NO_RETRY
        ),
        "get_charger": lambda: sdk().charger_deployments.get_charger("CP-AUTH", request_options=NO_RETRY),
        "update_charger": lambda: sdk().charger_deployments.update_charger(
            "CP-AUTH", name="x", request_options=NO_RETRY
        ),
        "delete_charger": lambda: sdk().charger_deployments.delete_charger("CP-AUTH", request_options=NO_RETRY),
        "list_location_chargers": lambda: sdk().location_charger_provisioning.list_location_chargers(
            location_id, request_options=NO_RETRY
        ),
        "create_location_chargers": lambda: sdk().location_charger_provisioning.create_location_chargers(
            location_id, chargers=[CreateChargerRequest(**PULSAR_PLUS, identity="CP-AUTH")], request_options=NO_RETRY
        ),
        "update_location_chargers": lambda: sdk().location_charger_provisioning.update_location_chargers(
            location_id, chargers=[UpdateLocationChargerItem(charger_id="CP-AUTH", name="x")], request_options=NO_RETRY
        ),
        "delete_location_chargers": lambda: sdk().location_charger_provisioning.delete_location_chargers(
            location_id, charger_ids=["CP-AUTH"], request_options=NO_RETRY
        ),
    }


@pytest.mark.parametrize("bearer", BAD_BEARERS.values(), ids=BAD_BEARERS.keys())
def test_every_tenant_route_and_the_catalog_refuse_a_missing_or_untrustworthy_token_with_401(
    connect: Callable[..., OcpplabApi], bearer: str | None
) -> None:
    calls = {
        **tenant_calls(lambda: connect(bearer=bearer)),
        "list_catalog_brands": lambda: connect(bearer=bearer).catalog.list_catalog_brands(request_options=NO_RETRY),
    }

    for name, call in calls.items():
        with pytest.raises(UnauthorizedError) as raised:
            call()
        assert isinstance(raised.value.body.detail, str), name


def test_a_user_token_acts_for_its_own_tenant_without_any_organization_header(
    connect: Callable[..., OcpplabApi], org: str
) -> None:
    sdk = connect(org)

    location = sdk.locations.create_location(**SITE)

    assert [listed.id for listed in sdk.locations.list_locations().data] == [location.id]


def test_a_user_token_may_repeat_its_own_organization(
    connect: Callable[..., OcpplabApi], new_location: Callable[..., LocationResponse], org: str
) -> None:
    location = new_location()

    sdk = connect(org, organization_id=org)

    assert sdk.locations.get_location(location.id) == location
    assert sdk.locations.list_locations().total == 1


def test_a_user_token_naming_another_organization_is_forbidden(
    connect: Callable[..., OcpplabApi], new_location: Callable[..., LocationResponse], org: str
) -> None:
    victim = new_org()
    victim_location = new_location(connect(victim))

    for name, call in tenant_calls(lambda: connect(org, organization_id=victim), victim_location.id).items():
        with pytest.raises(ForbiddenError) as raised:
            call()
        assert isinstance(raised.value.body.detail, str), name

    assert connect(victim).locations.list_locations().total == 1


def test_an_admin_token_without_organization_is_forbidden_on_tenant_routes(
    connect: Callable[..., OcpplabApi],
) -> None:
    for name, call in tenant_calls(lambda: connect(role="admin")).items():
        with pytest.raises(ForbiddenError) as raised:
            call()
        assert "X-Organization-Id" in raised.value.body.detail, name


def test_an_admin_token_with_a_registered_organization_acts_for_that_tenant(
    connect: Callable[..., OcpplabApi],
    new_location: Callable[..., LocationResponse],
    new_charger: Callable[..., ChargerResponse],
    org: str,
) -> None:
    users_location = new_location(name="Made By The User")
    users_charger = new_charger(identity="CP-USER", location_id=users_location.id)
    admin = connect(role="admin", organization_id=org)

    assert admin.locations.get_location(users_location.id).name == "Made By The User"
    assert desired(admin.charger_deployments.get_charger(users_charger.id)) == desired(users_charger)
    admins_location = admin.locations.create_location(**SITE, owner_name="Made By The Admin")
    admins_charger = admin.charger_deployments.create_charger(
        **PULSAR_PLUS, identity="CP-ADMIN", location_id=admins_location.id
    )

    user_view = connect(org)
    assert [loc.id for loc in user_view.locations.list_locations().data] == [users_location.id, admins_location.id]
    assert desired(user_view.charger_deployments.get_charger("CP-ADMIN")) == desired(admins_charger)
    listed = admin.location_charger_provisioning.list_location_chargers(admins_location.id).data
    assert [desired(charger) for charger in listed] == [desired(admins_charger)]  # runtime fields move on their own


def test_an_admin_token_for_another_organization_sees_only_that_tenant(
    connect: Callable[..., OcpplabApi], new_location: Callable[..., LocationResponse], org: str
) -> None:
    mine = new_location()
    other = new_org()
    theirs = new_location(connect(other))
    admin_for_other = connect(role="admin", organization_id=other)

    assert [location.id for location in admin_for_other.locations.list_locations().data] == [theirs.id]
    with pytest.raises(NotFoundError):
        admin_for_other.locations.get_location(mine.id, request_options=NO_RETRY)


def test_an_admin_token_for_an_unregistered_organization_finds_nothing(connect: Callable[..., OcpplabApi]) -> None:
    """404 for the unknown tenant: a NotFoundError where the SDK declares 404, else a plain ApiError(404)."""
    admin = connect(role="admin", organization_id=new_org())

    with pytest.raises(NotFoundError):
        admin.locations.get_location(UNKNOWN_LOCATION, request_options=NO_RETRY)
    for call in (
        lambda: admin.locations.list_locations(request_options=NO_RETRY),
        lambda: admin.locations.create_location(**SITE, request_options=NO_RETRY),
    ):
        with pytest.raises(ApiError) as raised:
            call()
        assert raised.value.status_code == 404
