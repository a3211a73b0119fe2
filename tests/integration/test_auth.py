"""Authentication and tenancy over HTTP (api.md section 2, operations.md "Tokens").

Every tenant-aware route takes a bearer JWT; user tokens act for their own organization, admin tokens must
name one with X-Organization-Id. Tokens that cannot be trusted are 401 with a string `detail`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from quart.testing.app import TestApp as Lifespan  # aliased: pytest must not collect it

from adapters.http.app import create_app
from tests.conftest import make_services
from tests.support import SECRET, token

LOCATION = {
    "name": "Hub",
    "address": "1 Main Street",
    "city": "Paris",
    "country": "FR",
    "coordinates": {"latitude": 48.8, "longitude": 2.3},
}
ORG_HEADER = "X-Organization-Id"


# -- helpers ---------------------------------------------------------------------------------------------

UNKNOWN_LOCATION = str(uuid.uuid4())
TENANT_ROUTES = {
    "locations": "/locations",
    "chargers": "/chargers",
    "location chargers": f"/locations/{UNKNOWN_LOCATION}/chargers/get-chargers",
}
CATALOG_ROUTES = {
    "catalog brands": "/catalog/brands",
    "catalog models": "/catalog/brands/abb/models",
}
PROTECTED_ROUTES = {**TENANT_ROUTES, "catalog brands": CATALOG_ROUTES["catalog brands"]}
CHARGER = {
    "brand_slug": "abb",
    "model_slug": "terra-184",
    "connector_type": "CCS2",
    "ws_url": "ws://csms.example:9000/ocpp",
}


def b64url(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid user claims for 'acme'; a None override drops the claim."""
    now = int(time.time())
    document = {"sub": "tester", "role": "user", "org_id": "acme", "iat": now, "exp": now + 3600, **overrides}
    return {k: v for k, v in document.items() if v is not None}


def signed(document: dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode({"alg": alg, "typ": "JWT"}, document, OctKey.import_key(secret), algorithms=[alg])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def admin() -> dict[str, str]:
    return bearer(token(None, role="admin", sub="operator"))


def user(org: str) -> dict[str, str]:
    return bearer(token(org))


def acting_for(org: str) -> dict[str, str]:
    return {**admin(), ORG_HEADER: org}


async def detail_of(response: Any) -> str:
    body = await response.get_json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("detail"), str), body
    return body["detail"]


async def create_location(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/locations", json={**LOCATION, **overrides}, headers=headers)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


async def create_charger(client: Any, headers: dict[str, str], identity: str, location_id: str) -> dict[str, Any]:
    body = {**CHARGER, "identity": identity, "location_id": location_id}
    response = await client.post("/chargers", json=body, headers=headers)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


async def listed(client: Any, path: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


# -- 401: no token, or a token that cannot be trusted ----------------------------------------------------

UNTRUSTED: dict[str, Callable[[], dict[str, str]]] = {
    "no authorization header": lambda: {},
    "basic scheme": lambda: {"Authorization": "Basic dXNlcjpwYXNz"},
    "token scheme": lambda: {"Authorization": f"Token {token('acme')}"},
    "bearer without a token": lambda: {"Authorization": "Bearer "},
    "bearer alone": lambda: {"Authorization": "Bearer"},
    "garbage token": lambda: bearer("not-a-jwt"),
    "three garbage segments": lambda: bearer("abc.def.ghi"),
    "alg none": lambda: bearer(b64url({"alg": "none", "typ": "JWT"}) + "." + b64url(claims()) + "."),
    "expired": lambda: bearer(token("acme", ttl=-60)),
    "another secret": lambda: bearer(signed(claims(), secret="another-secret-" + "y" * 40)),
    "without exp": lambda: bearer(signed(claims(exp=None))),
    "without sub": lambda: bearer(signed(claims(sub=None))),
    "empty sub": lambda: bearer(signed(claims(sub=""))),
    "without role": lambda: bearer(signed(claims(role=None))),
    "role superuser": lambda: bearer(signed(claims(role="superuser"))),
    "user without org_id": lambda: bearer(signed(claims(org_id=None))),
    "HS512 with the same secret": lambda: bearer(signed(claims(), alg="HS512")),
}


@pytest.mark.parametrize("path", PROTECTED_ROUTES.values(), ids=PROTECTED_ROUTES.keys())
@pytest.mark.parametrize("headers", UNTRUSTED.values(), ids=UNTRUSTED.keys())
async def test_an_untrusted_or_missing_token_is_401_with_a_bearer_challenge(client, headers, path):
    response = await client.get(path, headers=headers())
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate") == "Bearer"
    assert await detail_of(response)


async def test_the_helpers_build_tokens_the_server_trusts(client):
    """Guards the 401 cases: the same construction with valid claims is accepted."""
    for headers in (bearer(signed(claims())), bearer(token("acme")), {"Authorization": f"bearer {token('acme')}"}):
        assert (await client.get("/locations", headers=headers)).status_code == 200


async def test_an_untrusted_token_is_401_even_with_an_organization_header(client):
    headers = {**bearer(token("acme", ttl=-60)), ORG_HEADER: "acme"}
    response = await client.get("/locations", headers=headers)
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate") == "Bearer"


async def test_an_untrusted_token_writes_nothing(client, auth):
    response = await client.post("/locations", json=LOCATION, headers=bearer(signed(claims(), alg="HS512")))
    assert response.status_code == 401
    assert (await listed(client, "/locations", auth))["total"] == 0


# -- user tokens and X-Organization-Id ------------------------------------------------------------------


@pytest.mark.parametrize("path", [*TENANT_ROUTES.values(), *CATALOG_ROUTES.values()])
async def test_a_user_token_may_repeat_its_own_organization_in_the_header(client, auth, path):
    if "get-chargers" in path:  # needs a real location of the tenant
        path = path.replace(UNKNOWN_LOCATION, (await create_location(client, auth))["id"])
    response = await client.get(path, headers={**auth, ORG_HEADER: "acme"})
    assert response.status_code == 200, await response.get_data(as_text=True)


@pytest.mark.parametrize("path", [*TENANT_ROUTES.values(), *CATALOG_ROUTES.values()])
async def test_a_user_token_naming_another_organization_is_403(client, auth, path):
    response = await client.get(path, headers={**auth, ORG_HEADER: "globex"})
    assert response.status_code == 403
    assert await detail_of(response)


async def test_a_user_token_naming_another_organization_cannot_write_there(client, auth):
    response = await client.post("/locations", json=LOCATION, headers={**auth, ORG_HEADER: "globex"})
    assert response.status_code == 403
    assert (await listed(client, "/locations", auth))["total"] == 0
    assert (await listed(client, "/locations", user("globex")))["total"] == 0


# -- admin tokens ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/locations", "/chargers"])
async def test_an_admin_token_without_organization_header_is_403_on_tenant_routes(client, path):
    response = await client.get(path, headers=admin())
    assert response.status_code == 403
    assert await detail_of(response) == "X-Organization-Id required for admin tokens"


async def test_an_admin_token_without_organization_header_cannot_create(client):
    response = await client.post("/locations", json=LOCATION, headers=admin())
    assert response.status_code == 403
    assert await detail_of(response) == "X-Organization-Id required for admin tokens"


@pytest.mark.parametrize("path", ["/locations", "/chargers"])
async def test_an_admin_token_for_an_organization_never_registered_is_404(client, path):
    response = await client.get(path, headers=acting_for("never-seen"))
    assert response.status_code == 404
    assert await detail_of(response) == "Organization not found"


async def test_an_admin_token_does_not_register_an_organization_by_naming_it(client):
    response = await client.post("/locations", json=LOCATION, headers=acting_for("never-seen"))
    assert response.status_code == 404
    assert await detail_of(response) == "Organization not found"
    assert (await listed(client, "/organizations", admin()))["data"] == []


async def test_an_admin_token_acts_for_an_organization_a_user_registered(client, auth):
    mine = await create_location(client, auth, name="Acme Hub")
    await create_location(client, user("globex"), name="Globex Hub")
    seen = await listed(client, "/locations", acting_for("acme"))
    assert seen["total"] == 1
    assert [doc["id"] for doc in seen["data"]] == [mine["id"]]
    one = await client.get(f"/locations/{mine['id']}", headers=acting_for("acme"))
    assert one.status_code == 200
    assert (await one.get_json())["name"] == "Acme Hub"
    assert (await listed(client, "/chargers", acting_for("acme")))["total"] == 0


async def test_a_location_an_admin_creates_for_an_organization_is_visible_to_its_user_token(client, auth):
    await listed(client, "/locations", auth)  # registers 'acme'
    created = await create_location(client, acting_for("acme"), name="Made By Admin")
    seen = await listed(client, "/locations", auth)
    assert [doc["id"] for doc in seen["data"]] == [created["id"]]
    response = await client.get(f"/locations/{created['id']}", headers=auth)
    assert response.status_code == 200
    assert (await response.get_json())["name"] == "Made By Admin"
    assert (await listed(client, "/locations", user("globex")))["total"] == 0


# -- /organizations -------------------------------------------------------------------------------------


async def test_admins_list_the_tenants_user_tokens_registered_in_registration_order(client):
    assert (await listed(client, "/organizations", admin())) == {"data": [], "total": 0}
    for org in ("zeta", "alpha", "mid", "alpha"):
        await listed(client, "/locations", user(org))
    found = await listed(client, "/organizations", admin())
    assert found["total"] == 3
    assert [t["id"] for t in found["data"]] == ["zeta", "alpha", "mid"]
    assert all(isinstance(t["registered_at"], str) and t["registered_at"] for t in found["data"])


async def test_a_user_token_cannot_list_organizations(client, auth):
    response = await client.get("/organizations", headers=auth)
    assert response.status_code == 403
    assert await detail_of(response)


async def test_listing_organizations_needs_a_token(client):
    response = await client.get("/organizations")
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate") == "Bearer"


async def test_an_admin_registers_an_organization_and_can_then_act_for_it(client):
    first = await client.post("/organizations", json={"id": "initech"}, headers=admin())
    assert first.status_code == 201
    registered = await first.get_json()
    assert registered["id"] == "initech"
    again = await client.post("/organizations", json={"id": "initech"}, headers=admin())
    assert again.status_code == 200
    assert (await again.get_json()) == registered
    assert [t["id"] for t in (await listed(client, "/organizations", admin()))["data"]] == ["initech"]
    created = await create_location(client, acting_for("initech"), name="Initech Hub")
    assert [doc["id"] for doc in (await listed(client, "/locations", user("initech")))["data"]] == [created["id"]]


async def test_registering_an_organization_a_user_already_registered_is_200(client, auth):
    await listed(client, "/locations", auth)
    response = await client.post("/organizations", json={"id": "acme"}, headers=admin())
    assert response.status_code == 200
    assert (await response.get_json())["id"] == "acme"


async def test_a_user_token_cannot_register_an_organization(client, auth):
    response = await client.post("/organizations", json={"id": "initech"}, headers=auth)
    assert response.status_code == 403
    assert await detail_of(response)
    assert [t["id"] for t in (await listed(client, "/organizations", admin()))["data"]] == []


async def test_registering_an_invalid_organization_id_is_422(client):
    response = await client.post("/organizations", json={"id": "has space"}, headers=admin())
    assert response.status_code == 422
    detail = (await response.get_json())["detail"]
    assert isinstance(detail, list) and detail
    assert detail[0]["loc"][:2] == ["body", "id"]
    assert (await listed(client, "/organizations", admin()))["data"] == []


# -- catalog: authenticated, not tenant-scoped ----------------------------------------------------------


@pytest.mark.parametrize("path", CATALOG_ROUTES.values(), ids=CATALOG_ROUTES.keys())
async def test_catalog_routes_need_a_token(client, path):
    response = await client.get(path)
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate") == "Bearer"
    assert await detail_of(response)


@pytest.mark.parametrize("path", CATALOG_ROUTES.values(), ids=CATALOG_ROUTES.keys())
async def test_an_admin_token_reads_the_catalog_without_an_organization_header(client, path):
    response = await client.get(path, headers=admin())
    assert response.status_code == 200
    body = await response.get_json()
    assert body["total"] > 0 and body["data"]


async def test_the_catalog_is_the_same_for_every_tenant(client, auth):
    assert await listed(client, "/catalog/brands", auth) == await listed(client, "/catalog/brands", user("globex"))


# -- public routes --------------------------------------------------------------------------------------


PUBLIC_ATTEMPTS = [{}, bearer("garbage"), bearer(token("acme", ttl=-60)), {"Authorization": "Basic x"}]


@pytest.mark.parametrize("headers", PUBLIC_ATTEMPTS, ids=["none", "garbage", "expired", "basic"])
async def test_landing_and_health_need_no_token_and_ignore_a_bad_one(client, headers):
    landing = await client.get("/", headers=headers)
    assert landing.status_code == 200
    assert "text/html" in landing.headers["Content-Type"]
    health = await client.get("/health", headers=headers)
    assert health.status_code == 200
    body = await health.get_json()
    assert isinstance(body, dict) and body
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in body.items())
    assert body["status"] == "ok"


# -- X-Request-Id ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("supplied", ["req-123", "a" * 64, "trace:01.abc_DEF-9"])
async def test_a_valid_request_id_is_echoed(client, auth, supplied):
    for path, headers in (("/health", {}), ("/locations", auth)):
        response = await client.get(path, headers={**headers, "X-Request-Id": supplied})
        assert response.headers.get("X-Request-Id") == supplied


async def test_a_request_id_is_echoed_on_errors_too(client):
    response = await client.get("/locations", headers={"X-Request-Id": "req-401"})
    assert response.status_code == 401
    assert response.headers.get("X-Request-Id") == "req-401"


@pytest.mark.parametrize("supplied", ["bad id with spaces", "a" * 65, "semi;colon", "slash/ed"])
async def test_an_invalid_request_id_is_replaced(client, supplied):
    response = await client.get("/health", headers={"X-Request-Id": supplied})
    echoed = response.headers.get("X-Request-Id")
    assert echoed and echoed != supplied
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", echoed)


# -- tenant isolation -----------------------------------------------------------------------------------


async def test_tenants_never_see_each_others_locations(client, auth):
    other = user("globex")
    theirs = await create_location(client, auth, name="Acme Only")
    path = f"/locations/{theirs['id']}"
    for response in (
        await client.get(path, headers=other),
        await client.put(path, json={"name": "Hijacked"}, headers=other),
        await client.delete(path, headers=other),
        await client.get(f"{path}/chargers/get-chargers", headers=other),
    ):
        assert response.status_code == 404
        assert await detail_of(response)
    assert await listed(client, "/locations", other) == {"data": [], "total": 0, "page": 1, "limit": 50}
    still = await client.get(path, headers=auth)
    assert still.status_code == 200
    assert (await still.get_json())["name"] == "Acme Only"


async def test_tenants_never_see_each_others_chargers(client, auth):
    other = user("globex")
    location = await create_location(client, auth)
    charger = await create_charger(client, auth, "CP-ACME-1", location["id"])
    assert (await listed(client, "/chargers", other))["data"] == []
    assert (await listed(client, "/chargers", other))["total"] == 0
    assert (await listed(client, f"/chargers?location_id={location['id']}", other))["total"] == 0
    for key in (charger["id"], "CP-ACME-1"):
        response = await client.get(f"/chargers/{key}", headers=other)
        assert response.status_code == 404
        assert await detail_of(response)
    deleted = await client.delete(f"/chargers/{charger['id']}", headers=other)
    assert deleted.status_code == 404
    assert (await listed(client, "/chargers", auth))["total"] == 1


async def test_the_same_name_and_identity_may_exist_in_two_tenants(client, auth):
    other = user("globex")
    mine = await create_location(client, auth, name="Twin")
    theirs = await create_location(client, other, name="Twin")
    assert mine["id"] != theirs["id"]
    await create_charger(client, auth, "CP-TWIN", mine["id"])
    await create_charger(client, other, "CP-TWIN", theirs["id"])
    for headers, location in ((auth, mine), (other, theirs)):
        seen = await listed(client, "/locations", headers)
        assert [doc["id"] for doc in seen["data"]] == [location["id"]]
        assert [c["location_id"] for c in (await listed(client, "/chargers", headers))["data"]] == [location["id"]]


async def test_a_request_without_an_id_gets_a_fresh_one_each_time(client):
    first = (await client.get("/health")).headers.get("X-Request-Id")
    second = (await client.get("/health")).headers.get("X-Request-Id")
    assert first and second and first != second


# -- harness: the app behind the `client` fixture must shut down ----------------------------------------


async def test_the_app_shuts_down_even_when_stopped_while_the_follower_is_idle(sqlite_settings):
    for attempt in range(60):  # the follower polls without pause: each stop lands on one of its awaits
        settings = dataclasses.replace(sqlite_settings, data_dir=sqlite_settings.data_dir.parent / f"data-{attempt}")
        app = create_app(make_services(settings), follow_interval=0)
        lifespan = Lifespan(app, shutdown_timeout=2)
        await lifespan.startup()
        await asyncio.sleep(0.01)
        try:
            await lifespan.shutdown()
        except TimeoutError:
            for task in asyncio.all_tasks():  # leave no task behind before failing
                if getattr(task.get_coro(), "__qualname__", "") == "Views.follow":
                    while not task.done():
                        task.cancel()
                        await asyncio.wait([task], timeout=0.5)
            await asyncio.wait_for(asyncio.ensure_future(lifespan._task), timeout=5)
            pytest.fail(f"the app did not shut down within 2 s (attempt {attempt + 1})")
