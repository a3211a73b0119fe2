"""The auditors' API through HTTP: the event log of a tenant, the history of one resource, state `as_of` a moment.

Every test works in an organization of its own (a fresh store per test, but the names make it obvious).
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from adapters.store.projections import event_record
from tests.support import token

SITE = {"address": "1 Main", "city": "Paris", "country": "FR", "coordinates": {"latitude": 48.85, "longitude": 2.35}}
CHARGER = {
    "brand_slug": "wallbox",
    "model_slug": "wallbox-pulsar-plus",
    "connector_type": "Type2",
    "ws_url": "ws://csms.example/ocpp",
}
RECORD_KEYS = {
    "position",
    "id",
    "type",
    "aggregate_type",
    "aggregate_id",
    "version",
    "timestamp",
    "tenant_id",
    "actor",
    "request_id",
    "data",
}
RUNTIME_KEYS = {"runtime_status", "runtime_error", "connected_at", "last_frame_at", "heartbeat_interval", "connectors"}
TEST_SECONDS = 20


@pytest.fixture(autouse=True)
def time_limit() -> Iterator[None]:
    """No test of this module may run longer than TEST_SECONDS."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the test ran longer than {TEST_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def new_org(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


class Tenant:
    """One organization's calls: a user token (or an admin token naming the org), a request id per call."""

    def __init__(self, client: Any, org: str, sub: str = "auditor", role: str = "user") -> None:
        self.client = client
        self.org = org
        self.sub = sub
        self.role = role
        self.calls = 0

    def headers(self, request_id: str | None = None) -> dict[str, str]:
        self.calls += 1
        bearer = token(self.org if self.role == "user" else None, self.role, sub=self.sub)
        headers = {"Authorization": f"Bearer {bearer}", "X-Request-Id": request_id or f"call-{self.calls}"}
        if self.role == "admin":
            headers["X-Organization-Id"] = self.org
        return headers

    async def send(self, method: str, path: str, request_id: str | None = None, **kwargs: Any) -> tuple[int, Any]:
        reply = await self.client.open(path, method=method, headers=self.headers(request_id), **kwargs)
        return reply.status_code, await reply.get_json() if reply.status_code != 204 else None

    async def ok(self, method: str, path: str, request_id: str | None = None, **kwargs: Any) -> Any:
        status, body = await self.send(method, path, request_id, **kwargs)
        assert status in (200, 201, 204), (method, path, status, body)
        return body

    async def create_location(self, name: str, request_id: str | None = None) -> dict:
        return await self.ok("POST", "/locations", request_id, json={**SITE, "name": name})

    async def create_charger(self, location_id: str, identity: str, request_id: str | None = None) -> dict:
        return await self.ok(
            "POST", "/chargers", request_id, json={**CHARGER, "identity": identity, "location_id": location_id}
        )

    async def events(self, **params: Any) -> dict:
        return await self.ok("GET", "/events", query_string=params)

    async def all_events(self, limit: int = 2, **params: Any) -> list[dict]:
        """Every page, following `next_after` until it is null."""
        records: list[dict] = []
        after = 0
        for _ in range(1000):
            page = await self.events(after=after, limit=limit, **params)
            assert len(page["data"]) <= limit
            records += page["data"]
            if page["next_after"] is None:
                return records
            assert page["next_after"] == page["data"][-1]["position"]
            after = page["next_after"]
        raise AssertionError("the pages never end")


async def write_a_small_fleet(tenant: Tenant) -> dict[str, Any]:
    """Two locations, two chargers; a rename with a move, a location update, two deletions. Request ids per write."""
    hub = await tenant.create_location("Hub", "req-hub")
    depot = await tenant.create_location("Depot", "req-depot")
    one = await tenant.create_charger(hub["id"], "CP-1", "req-cp1")
    two = await tenant.create_charger(hub["id"], "CP-2", "req-cp2")
    await tenant.ok("PUT", f"/chargers/{two['id']}", "req-move", json={"name": "Fast lane", "location_id": depot["id"]})
    await tenant.ok("PUT", f"/locations/{hub['id']}", "req-city", json={"city": "Lyon"})
    await tenant.ok("DELETE", f"/chargers/{one['id']}", "req-del-cp1")
    await tenant.ok("DELETE", f"/locations/{hub['id']}", "req-del-hub")
    return {"hub": hub["id"], "depot": depot["id"], "one": one["id"], "two": two["id"]}


def stored_records(client: Any, org: str) -> list[dict]:
    """What the event store itself holds for the tenant, as auditors read it."""
    gateway = client.app.extensions["ocpplab"].gateway
    records = []
    for notification in gateway.recorder.select_notifications(1, 100_000):
        event = gateway.mapper.to_domain_event(notification)
        if (event.meta or {}).get("tenant_id") == org:
            records.append(event_record(notification.id, event))
    return records


def moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def z(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# -- GET /events ---------------------------------------------------------------------------------------


async def test_events_page_through_every_event_of_the_tenant_in_log_order(client):
    tenant = Tenant(client, new_org("pages"), sub="alice")
    ids = await write_a_small_fleet(tenant)

    records = await tenant.all_events(limit=2)

    positions = [r["position"] for r in records]
    assert positions == sorted(set(positions)), "positions strictly increase"
    assert records == stored_records(client, tenant.org), "every stored event of the tenant, nothing else"
    assert len({r["id"] for r in records}) == len(records), "event ids are unique"
    for record in records:
        assert set(record) == RECORD_KEYS
        assert record["tenant_id"] == tenant.org
        assert record["actor"] == {"sub": "alice", "role": "user"}
        assert record["type"].startswith(record["aggregate_type"] + ".")
        assert isinstance(record["id"], str) and record["id"]
        assert uuid.UUID(record["aggregate_id"])
        assert moment(record["timestamp"]).tzinfo is not None
        assert isinstance(record["data"], dict)
    assert [(r["type"], r["request_id"]) for r in records] == [
        ("Tenant.Registered", "req-hub"),
        ("Location.Created", "req-hub"),
        ("Location.Created", "req-depot"),
        ("Charger.Registered", "req-cp1"),
        ("IdentityIndex.Claimed", "req-cp1"),
        ("Location.ChargerAttached", "req-cp1"),
        ("Charger.Registered", "req-cp2"),
        ("IdentityIndex.Claimed", "req-cp2"),
        ("Location.ChargerAttached", "req-cp2"),
        ("Charger.Updated", "req-move"),
        ("Charger.Moved", "req-move"),
        ("Location.ChargerDetached", "req-move"),
        ("Location.ChargerAttached", "req-move"),
        ("Location.Updated", "req-city"),
        ("Charger.Deleted", "req-del-cp1"),
        ("Location.ChargerDetached", "req-del-cp1"),
        ("IdentityIndex.Released", "req-del-cp1"),
        ("Location.Deleted", "req-del-hub"),
    ]
    versions: dict[str, list[int]] = {}
    for record in records:
        versions.setdefault(record["aggregate_id"], []).append(record["version"])
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values()), "each aggregate's versions count up"
    by_type = {r["type"]: r for r in records}
    assert by_type["Location.Created"]["data"]["site"]["name"] == "Depot"
    assert by_type["Charger.Updated"]["data"]["changes"] == {"name": "Fast lane"}
    assert by_type["Charger.Moved"]["data"]["location_id"] == ids["depot"]
    assert by_type["Location.Updated"]["data"]["changes"] == {"city": "Lyon"}


async def test_a_page_shorter_than_the_limit_ends_the_log_and_after_skips_what_was_read(client):
    tenant = Tenant(client, new_org("ends"))
    await tenant.create_location("Hub")
    everything = await tenant.events(limit=1000)
    assert len(everything["data"]) == 2 and everything["next_after"] is None
    first = await tenant.events(limit=1)
    assert first["data"] == everything["data"][:1] and first["next_after"] == everything["data"][0]["position"]
    rest = await tenant.events(after=first["next_after"], limit=1000)
    assert rest["data"] == everything["data"][1:]
    beyond = await tenant.events(after=everything["data"][-1]["position"])
    assert beyond == {"data": [], "next_after": None}


async def test_events_filter_by_several_types_given_as_repeated_parameters(client):
    tenant = Tenant(client, new_org("types"))
    await write_a_small_fleet(tenant)
    everything = await tenant.all_events(limit=1000)

    reply = await client.get(
        "/events?type=Location.Created&type=Charger.Registered&limit=1000", headers=tenant.headers()
    )
    assert reply.status_code == 200
    chosen = (await reply.get_json())["data"]

    assert chosen == [r for r in everything if r["type"] in ("Location.Created", "Charger.Registered")]
    assert [r["type"] for r in chosen] == ["Location.Created"] * 2 + ["Charger.Registered"] * 2
    only = await tenant.events(type="Location.Deleted")
    assert [r["type"] for r in only["data"]] == ["Location.Deleted"]
    assert (await tenant.events(type="No.Such"))["data"] == []


async def test_events_filter_by_aggregate_id(client):
    tenant = Tenant(client, new_org("aggregate"))
    ids = await write_a_small_fleet(tenant)
    everything = await tenant.all_events(limit=1000)

    for key in ("hub", "two"):
        records = await tenant.all_events(limit=2, aggregate_id=ids[key])
        assert records == [r for r in everything if r["aggregate_id"] == ids[key]]
    assert [r["type"] for r in await tenant.all_events(aggregate_id=ids["two"])] == [
        "Charger.Registered",
        "Charger.Updated",
        "Charger.Moved",
    ]
    assert (await tenant.events(aggregate_id=str(uuid.uuid4())))["data"] == []


async def test_events_filter_by_a_time_span_with_inclusive_bounds(client):
    tenant = Tenant(client, new_org("span"))
    await write_a_small_fleet(tenant)
    everything = await tenant.all_events(limit=1000)
    stamps = [r["timestamp"] for r in everything]
    since, until = stamps[3], stamps[-4]

    spanned = await tenant.all_events(limit=2, since=since, until=until)
    assert spanned == [r for r in everything if since <= r["timestamp"] <= until]
    assert spanned[0]["timestamp"] == since and spanned[-1]["timestamp"] == until

    assert await tenant.all_events(since=since) == [r for r in everything if r["timestamp"] >= since]
    assert await tenant.all_events(until=until) == [r for r in everything if r["timestamp"] <= until]
    assert await tenant.all_events(since=z(moment(stamps[-1]) + timedelta(microseconds=1))) == []


async def test_time_bounds_in_another_zone_or_without_zone_mean_the_same_instant(client):
    tenant = Tenant(client, new_org("zones"))
    await write_a_small_fleet(tenant)
    everything = await tenant.all_events(limit=1000)
    since = moment(everything[5]["timestamp"])
    expected = [r for r in everything if moment(r["timestamp"]) >= since]

    paris = since.astimezone(timezone(timedelta(hours=2))).isoformat()  # "+02:00": the client URL-encodes the "+"
    naive = since.astimezone(UTC).replace(tzinfo=None).isoformat()
    assert await tenant.all_events(limit=1000, since=paris) == expected
    assert await tenant.all_events(limit=1000, since=naive) == expected


async def test_another_tenants_events_never_appear(client):
    acme = Tenant(client, new_org("acme"))
    globex = Tenant(client, new_org("globex"))
    acme_ids = await write_a_small_fleet(acme)
    await write_a_small_fleet(globex)

    for tenant in (acme, globex):
        records = await tenant.all_events(limit=3)
        assert records and {r["tenant_id"] for r in records} == {tenant.org}
        assert records == stored_records(client, tenant.org)
    assert (await globex.events(aggregate_id=acme_ids["two"]))["data"] == []

    admin_for_globex = Tenant(client, globex.org, sub="ops", role="admin")
    seen_by_admin = await admin_for_globex.all_events(limit=1000)
    assert {r["tenant_id"] for r in seen_by_admin} == {globex.org}
    assert [r["position"] for r in seen_by_admin] == [r["position"] for r in stored_records(client, globex.org)]
    assert (await admin_for_globex.events(aggregate_id=acme_ids["two"]))["data"] == []

    sneaky = globex.headers()
    sneaky["X-Organization-Id"] = acme.org
    assert (await client.get("/events", headers=sneaky)).status_code == 403


async def test_admin_writes_record_the_admin_as_the_actor(client):
    acme = Tenant(client, new_org("admin-actor"))
    await acme.create_location("Hub")
    admin = Tenant(client, acme.org, sub="ops", role="admin")
    await admin.create_location("Depot", "req-admin")
    last = (await acme.all_events(limit=1000))[-1]
    assert (last["type"], last["actor"], last["request_id"]) == (
        "Location.Created",
        {"sub": "ops", "role": "admin"},
        "req-admin",
    )


@pytest.mark.parametrize("limit", [0, 1001])
async def test_a_limit_outside_1_to_1000_is_refused_with_422(client, limit):
    tenant = Tenant(client, new_org("limits"))
    status, body = await tenant.send("GET", "/events", query_string={"limit": limit})
    assert status == 422
    assert body["detail"][0]["loc"] == ["query", "limit"]


async def test_events_without_a_token_are_refused_with_401(client):
    assert (await client.get("/events")).status_code == 401


# -- histories -----------------------------------------------------------------------------------------


async def test_the_history_of_a_charger_is_readable_by_its_id_even_after_deletion(client):
    tenant = Tenant(client, new_org("charger-history"))
    hub = await tenant.create_location("Hub")
    charger = await tenant.create_charger(hub["id"], "CP-1")
    await tenant.ok("PUT", f"/chargers/{charger['id']}", json={"name": "Bay 1"})
    by_identity = await tenant.ok("GET", "/chargers/CP-1/history")
    await tenant.ok("DELETE", f"/chargers/{charger['id']}")

    history = await tenant.ok("GET", f"/chargers/{charger['id']}/history")

    assert history["next_after"] is None
    assert [(r["type"], r["version"]) for r in history["data"]] == [
        ("Charger.Registered", 1),
        ("Charger.Updated", 2),
        ("Charger.Deleted", 3),
    ]
    assert history["data"] == await tenant.all_events(aggregate_id=charger["id"])
    assert by_identity["data"] == history["data"][:2]
    assert (await tenant.send("GET", "/chargers/CP-1/history"))[0] == 404, "the identity was released"


async def test_the_history_of_a_location_is_readable_even_after_deletion(client):
    tenant = Tenant(client, new_org("location-history"))
    hub = await tenant.create_location("Hub")
    await tenant.ok("PUT", f"/locations/{hub['id']}", json={"name": "Main hub"})
    charger = await tenant.create_charger(hub["id"], "CP-1")
    await tenant.ok("DELETE", f"/chargers/{charger['id']}")
    await tenant.ok("DELETE", f"/locations/{hub['id']}")

    history = await tenant.ok("GET", f"/locations/{hub['id']}/history")

    assert [r["type"] for r in history["data"]] == [
        "Location.Created",
        "Location.Updated",
        "Location.ChargerAttached",
        "Location.ChargerDetached",
        "Location.Deleted",
    ]
    assert history["data"] == await tenant.all_events(aggregate_id=hub["id"])
    assert (await tenant.send("GET", f"/locations/{hub['id']}"))[0] == 404


async def test_histories_of_another_tenants_or_unknown_resources_are_not_found(client):
    acme = Tenant(client, new_org("owner"))
    globex = Tenant(client, new_org("stranger"))
    hub = await acme.create_location("Hub")
    charger = await acme.create_charger(hub["id"], "CP-1")
    await globex.create_location("Theirs")

    assert (await globex.send("GET", f"/chargers/{charger['id']}/history"))[0] == 404
    assert (await globex.send("GET", f"/locations/{hub['id']}/history"))[0] == 404
    assert (await globex.send("GET", "/chargers/CP-1/history"))[0] == 404
    admin_for_globex = Tenant(client, globex.org, sub="ops", role="admin")
    assert (await admin_for_globex.send("GET", f"/chargers/{charger['id']}/history"))[0] == 404
    assert (await acme.send("GET", f"/chargers/{uuid.uuid4()}/history"))[0] == 404
    assert (await acme.send("GET", "/locations/not-a-uuid/history"))[0] == 404
    assert (await acme.send("GET", f"/chargers/{hub['id']}/history"))[0] == 404, "a location is no charger"
    assert (await acme.send("GET", f"/locations/{charger['id']}/history"))[0] == 404, "a charger is no location"


# -- as_of ---------------------------------------------------------------------------------------------


async def test_a_location_as_of_each_of_its_events_is_the_document_written_by_that_event(client):
    tenant = Tenant(client, new_org("location-as-of"))
    after: list[dict] = []  # the location after each of its events, as the API answered the writes
    hub = await tenant.create_location("Hub")
    after.append(hub)
    after.append(await tenant.ok("PUT", f"/locations/{hub['id']}", json={"city": "Lyon", "public": True}))
    charger = await tenant.create_charger(hub["id"], "CP-1")
    after.append(await tenant.ok("GET", f"/locations/{hub['id']}"))
    after.append(await tenant.ok("PUT", f"/locations/{hub['id']}", json={"name": "Main hub"}))
    await tenant.ok("DELETE", f"/chargers/{charger['id']}")
    after.append(await tenant.ok("GET", f"/locations/{hub['id']}"))
    assert [doc["charger_count"] for doc in after] == [0, 0, 1, 1, 0]

    history = (await tenant.ok("GET", f"/locations/{hub['id']}/history"))["data"]
    assert len(history) == len(after)
    for index, (record, expected) in enumerate(zip(history, after, strict=True)):
        at = record["timestamp"]
        assert await tenant.ok("GET", f"/locations/{hub['id']}", query_string={"as_of": at}) == expected
        if index + 1 < len(history):  # just before the next event: still this state
            just_before = z(moment(history[index + 1]["timestamp"]) - timedelta(microseconds=1))
            assert await tenant.ok("GET", f"/locations/{hub['id']}", query_string={"as_of": just_before}) == expected


async def test_a_charger_as_of_each_of_its_events_is_the_desired_state_written_by_that_event(client):
    tenant = Tenant(client, new_org("charger-as-of"))
    hub = await tenant.create_location("Hub")
    depot = await tenant.create_location("Depot")
    after: list[dict] = []
    charger = await tenant.create_charger(hub["id"], "CP-1")
    after.append(charger)
    after.append(await tenant.ok("PUT", f"/chargers/{charger['id']}", json={"name": "Bay 1"}))
    after.append(await tenant.ok("PUT", f"/chargers/{charger['id']}", json={"location_id": depot["id"]}))
    after.append(await tenant.ok("PUT", f"/chargers/{charger['id']}", json={"ws_url": "ws://other.example/ocpp"}))

    history = (await tenant.ok("GET", f"/chargers/{charger['id']}/history"))["data"]
    assert [r["type"] for r in history] == [
        "Charger.Registered",
        "Charger.Updated",
        "Charger.Moved",
        "Charger.Updated",
    ]
    for record, written in zip(history, after, strict=True):
        for key in (charger["id"], "CP-1"):  # by id and by identity
            past = await tenant.ok("GET", f"/chargers/{key}", query_string={"as_of": record["timestamp"]})
            assert set(written) - set(past) == RUNTIME_KEYS, "as_of answers the desired state only"
            assert past == {k: v for k, v in written.items() if k not in RUNTIME_KEYS}


async def test_as_of_in_another_zone_or_without_zone_means_the_same_instant(client):
    tenant = Tenant(client, new_org("as-of-zones"))
    hub = await tenant.create_location("Hub")
    renamed = await tenant.ok("PUT", f"/locations/{hub['id']}", json={"name": "Main hub"})
    at = moment(renamed["updated_at"])
    for form in (at.astimezone(timezone(timedelta(hours=-5))).isoformat(), at.replace(tzinfo=None).isoformat()):
        assert await tenant.ok("GET", f"/locations/{hub['id']}", query_string={"as_of": form}) == renamed
        earlier = (at - timedelta(microseconds=1)).astimezone(timezone(timedelta(hours=9))).isoformat()
        assert await tenant.ok("GET", f"/locations/{hub['id']}", query_string={"as_of": earlier}) == hub


async def test_as_of_before_creation_is_not_found(client):
    tenant = Tenant(client, new_org("before"))
    hub = await tenant.create_location("Hub")
    charger = await tenant.create_charger(hub["id"], "CP-1")
    for path, created in ((f"/locations/{hub['id']}", hub), (f"/chargers/{charger['id']}", charger)):
        before = z(moment(created["created_at"]) - timedelta(microseconds=1))
        status, body = await tenant.send("GET", path, query_string={"as_of": before})
        assert status == 404, body
        assert (await tenant.send("GET", path, query_string={"as_of": created["created_at"]}))[0] == 200


async def test_as_of_at_or_after_deletion_is_not_found(client):
    tenant = Tenant(client, new_org("after"))
    hub = await tenant.create_location("Hub")
    charger = await tenant.create_charger(hub["id"], "CP-1")
    await tenant.ok("DELETE", f"/chargers/{charger['id']}")
    await tenant.ok("DELETE", f"/locations/{hub['id']}")
    charger_deleted = (await tenant.all_events(type="Charger.Deleted"))[0]["timestamp"]
    location_deleted = (await tenant.all_events(type="Location.Deleted"))[0]["timestamp"]
    later = z(datetime.now(UTC) + timedelta(days=1))

    for at in (charger_deleted, later):
        assert (await tenant.send("GET", f"/chargers/{charger['id']}", query_string={"as_of": at}))[0] == 404
    for at in (location_deleted, later):
        assert (await tenant.send("GET", f"/locations/{hub['id']}", query_string={"as_of": at}))[0] == 404
    just_before = z(moment(charger_deleted) - timedelta(microseconds=1))
    past = await tenant.ok("GET", f"/chargers/{charger['id']}", query_string={"as_of": just_before})
    assert past["identity"] == "CP-1"


async def test_as_of_of_another_tenants_resource_is_not_found(client):
    acme = Tenant(client, new_org("mine"))
    globex = Tenant(client, new_org("yours"))
    hub = await acme.create_location("Hub")
    charger = await acme.create_charger(hub["id"], "CP-1")
    await globex.create_location("Theirs")
    now = z(datetime.now(UTC))
    for path in (f"/locations/{hub['id']}", f"/chargers/{charger['id']}", "/chargers/CP-1"):
        assert (await globex.send("GET", path, query_string={"as_of": now}))[0] == 404
        assert (await acme.send("GET", path, query_string={"as_of": now}))[0] == 200
    assert (await acme.send("GET", f"/chargers/{uuid.uuid4()}", query_string={"as_of": now}))[0] == 404


@pytest.mark.parametrize("as_of", ["yesterday", "2025-13-01T00:00:00Z", "2025-01-01T25:00:00Z", ""])
async def test_a_malformed_as_of_is_refused_with_422(client, as_of):
    tenant = Tenant(client, new_org("malformed"))
    hub = await tenant.create_location("Hub")
    charger = await tenant.create_charger(hub["id"], "CP-1")
    for path in (f"/locations/{hub['id']}", f"/chargers/{charger['id']}"):
        status, body = await tenant.send("GET", path, query_string={"as_of": as_of})
        assert status == 422, body
        assert body["detail"][0]["loc"] == ["query", "as_of"]


@pytest.mark.parametrize("edge", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.parametrize("parameter", ["as_of", "since", "until"])
async def test_moments_whose_utc_form_leaves_the_calendar_are_answered_without_a_server_error(client, parameter, edge):
    """422 (out of range) or an answer as for the nearest representable moment: either is fine, 500 is not."""
    tenant = Tenant(client, new_org("edges"))
    hub = await tenant.create_location("Hub")
    path = f"/locations/{hub['id']}" if parameter == "as_of" else "/events"
    status, body = await tenant.send("GET", path, query_string={parameter: edge})
    assert status in (200, 404, 422), body
