"""Read models on the real stores (SQLite and PostgreSQL): catch-up, rebuild, several followers."""

from __future__ import annotations

from adapters.bootstrap import build_gateway
from adapters.store.views import Views
from application.gateway import Gateway
from application.ports import Actor

SITE = {
    "name": "Hub",
    "address": "1 Main",
    "city": "Paris",
    "country": "FR",
    "coordinates": {"latitude": 48.85, "longitude": 2.35},
}
ACME = Actor(sub="alice", role="user", tenant_id="acme", request_id="r1")
GLOBEX = Actor(sub="bob", role="user", tenant_id="globex", request_id="r2")


def populate(app: Gateway) -> dict:
    app.ensure_tenant(ACME)
    app.ensure_tenant(GLOBEX)
    hub = app.create_location(ACME, SITE)
    depot = app.create_location(ACME, {**SITE, "name": "Depot"})
    theirs = app.create_location(GLOBEX, SITE)
    one = app.create_charger(ACME, hub.id, "CP-1", "wallbox", "wallbox-pulsar-plus", "Type2", "ws://csms/ocpp")
    two = app.create_charger(ACME, hub.id, "CP-2", "abb", "terra-184", "CCS2", "ws://csms/ocpp", "OCPP2.0.1")
    app.create_charger(GLOBEX, theirs.id, "CP-1", "wallbox", "wallbox-pulsar-plus", "Type2", "ws://other/ocpp")
    app.update_charger(ACME, two.id, {"name": "Fast lane"}, location_id=depot.id)
    app.update_location(ACME, hub.id, {"city": "Lyon"})
    app.delete_charger(ACME, one.id)
    return {"hub": hub.id, "depot": depot.id, "two": two.id}


async def snapshot(views: Views, tenant: str) -> dict:
    locations = await views.locations(tenant, 1, 100)
    chargers = await views.chargers(tenant, 1, 100)
    return {"locations": locations.rows, "chargers": chargers.rows}


async def test_views_follow_the_log_and_filter_by_tenant(settings):
    app = build_gateway(settings)
    ids = populate(app)
    views = Views(settings.views_path, app)
    await views.open()
    assert await views.catch_up() == app.position()
    acme = await snapshot(views, "acme")
    assert [loc["name"] for loc in acme["locations"]] == ["Hub", "Depot"]
    assert acme["locations"][0]["city"] == "Lyon" and acme["locations"][0]["charger_count"] == 0
    assert [(c["identity"], c["name"], c["location_id"]) for c in acme["chargers"]] == [
        ("CP-2", "Fast lane", str(ids["depot"]))
    ]
    globex = await snapshot(views, "globex")
    assert [c["ws_url"] for c in globex["chargers"]] == ["ws://other/ocpp"]
    assert await views.charger("globex", str(ids["two"])) is None
    assert [t["id"] for t in await views.tenants()] == ["acme", "globex"]
    await views.close()
    app.close()


async def test_rebuild_from_zero_gives_the_same_views(settings):
    app = build_gateway(settings)
    populate(app)
    views = Views(settings.views_path, app, batch_size=3)
    await views.open()
    await views.catch_up()
    before = {t: await snapshot(views, t) for t in ("acme", "globex")}
    applied, _ = await views.rebuild()
    assert applied == app.position()
    assert {t: await snapshot(views, t) for t in ("acme", "globex")} == before
    await views.close()
    app.close()


async def test_views_resume_from_their_tracked_position(settings):
    app = build_gateway(settings)
    app.create_location(ACME, SITE)
    views = Views(settings.views_path, app)
    await views.open()
    await views.catch_up()
    await views.close()
    app.create_location(ACME, {**SITE, "name": "Later"})
    reopened = Views(settings.views_path, app)
    await reopened.open()
    assert reopened.position == 1
    await reopened.catch_up()
    assert [loc["name"] for loc in (await reopened.locations("acme", 1, 10)).rows] == ["Hub", "Later"]
    await reopened.close()
    app.close()


async def test_two_processes_sharing_a_store_see_each_others_writes(settings):
    """Two application instances on one store (as two `api` processes): each view catches up with both."""
    first = build_gateway(settings)
    second = build_gateway(settings)
    a = first.create_location(ACME, SITE)
    b = second.create_location(ACME, {**SITE, "name": "From second"})
    views = Views(settings.data_dir / "other-views.sqlite", first)
    await views.open()
    await views.catch_up(b.position)
    assert {loc["id"] for loc in (await views.locations("acme", 1, 10)).rows} == {str(a.id), str(b.id)}
    await views.close()
    first.close()
    second.close()


async def test_concurrent_creates_of_one_identity_register_one_charger(settings):
    """Optimistic concurrency across two writers: exactly one create wins, the other is refused."""
    import asyncio

    first = build_gateway(settings)
    second = build_gateway(settings)
    hub = first.create_location(ACME, SITE)

    def create(app: Gateway, url: str):
        try:
            return app.create_charger(ACME, hub.id, "CP-RACE", "wallbox", "wallbox-pulsar-plus", "Type2", url)
        except Exception as error:
            return error

    results = await asyncio.gather(
        *(asyncio.to_thread(create, app, f"ws://csms-{n}/ocpp") for n, app in enumerate([first, second] * 4))
    )
    winners = {r.id for r in results if not isinstance(r, Exception) and r.created}
    assert len(winners) == 1
    assert all(not isinstance(r, Exception) or "already exists" in str(r) for r in results)
    first.close()
    second.close()
