"""Properties of the auditors' features over random histories on a real SQLite store.

(a) the views rebuilt from the events equal the live views that followed the log, whatever the batch sizes;
(b) a resource `as_of` the moment of any of its events is its state right after that event;
(c) changing any bytes of a stored event (state, topic or version) breaks the hash chain at that event.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.bootstrap import build_gateway
from adapters.catalog.loader import default_catalog
from adapters.http.app import create_app
from adapters.http.context import Services
from adapters.http.errors import HttpError
from adapters.http.routes.audit import state_as_of
from adapters.settings import Settings
from adapters.store.projections import CHARGER_PREFIX, LOCATION_PREFIX, fold_charger, fold_location, present_charger
from adapters.store.verify import verify_chain
from adapters.store.views import VIEW_TABLES, Views
from adapters.tokens import TokenVerifier
from application.gateway import Gateway
from application.ports import Actor
from domain.charger import Charger
from domain.errors import DomainError, NotFound
from domain.location import Location
from tests.support import SECRET

MODULE_SECONDS = 80
EXAMPLE_SECONDS = 20
TENANTS = ("acme", "globex")
SITE = {"address": "1 Main", "city": "Paris", "country": "FR", "coordinates": {"latitude": 1.0, "longitude": 2.0}}
RUNTIME_KEYS = {"runtime_status", "runtime_error", "connected_at", "last_frame_at", "heartbeat_interval", "connectors"}
FEW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def time_limit() -> Iterator[None]:
    """The whole module may not run longer than MODULE_SECONDS."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the property tests ran longer than {MODULE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(MODULE_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def who(tenant: str) -> Actor:
    return Actor(sub="prop", role="user", tenant_id=tenant, request_id="r")


# -- random histories of the domain's commands ---------------------------------------------------------

tenants = st.sampled_from(TENANTS)
callers = st.sampled_from(["owner", "owner", "owner", "owner", *TENANTS])  # mostly the owner, sometimes anyone
picks = st.integers(0, 7)  # which of the resources created so far (modulo their number)
CREATE_CHARGER = st.tuples(
    st.just("create_charger"),
    callers,
    picks,
    st.sampled_from(["CP-1", "CP-2", "CP-3"]),
    st.sampled_from(["Type2", "Type2", "Type2", "CCS2"]),  # CCS2 does not fit the model: refused
)
UPDATE_CHARGER = st.tuples(
    st.just("update_charger"),
    callers,
    picks,
    st.sampled_from([{"name": "Bay 1"}, {"ws_url": "ws://other/ocpp"}, {}]),
    st.none() | picks,  # move to another location, or not
)
STEPS = st.one_of(
    st.tuples(st.just("create_location"), tenants, st.sampled_from(["Hub", "Depot"])),
    st.tuples(
        st.just("update_location"),
        callers,
        picks,
        st.sampled_from([{"name": "Renamed"}, {"city": "Lyon"}, {"public": True}, {"timezone": "Europe/Paris"}]),
    ),
    st.tuples(st.just("delete_location"), callers, picks),
    CREATE_CHARGER,
    CREATE_CHARGER,
    UPDATE_CHARGER,
    UPDATE_CHARGER,
    st.tuples(st.just("run_charger"), callers, picks, st.booleans()),
    st.tuples(st.just("delete_charger"), callers, picks),
)
PREAMBLE = [  # something to act on from the first step: two locations and a charger per tenant
    *((("create_location", tenant, name), False) for tenant in TENANTS for name in ("Hub", "Depot")),
    *((("create_charger", "owner", index, "CP-1", "Type2"), False) for index in (0, 2)),
]
HISTORIES = st.lists(st.tuples(STEPS, st.booleans()), min_size=3, max_size=20).map(
    lambda steps: PREAMBLE + steps  # (command, do the live views catch up right after it?)
)


class History:
    """Runs random commands against the gateway; refused commands (wrong tenant, gone, conflicts) change nothing."""

    def __init__(self, app: Gateway) -> None:
        self.app = app
        self.locations: list[UUID] = []
        self.chargers: list[UUID] = []
        self.owner: dict[UUID, str] = {}

    @staticmethod
    def pick(items: list[UUID], index: int) -> UUID | None:
        return items[index % len(items)] if items else None

    def run(self, step: tuple) -> None:
        kind, caller, *args = step
        if kind == "create_location":
            actor = who(caller)
            self.app.ensure_tenant(actor)
            written = self.app.create_location(actor, {**SITE, "name": args[0]})
            self.locations.append(written.id)
            self.owner[written.id] = caller
            return
        target = self.pick(self.locations if kind.endswith("location") else self.chargers, args[0])
        if kind == "create_charger":
            target = self.pick(self.locations, args[0])
        if target is None:
            return
        tenant = self.owner[target] if caller == "owner" else caller
        actor = who(tenant)
        self.app.ensure_tenant(actor)
        try:
            if kind == "create_charger":
                written = self.app.create_charger(
                    actor, target, args[1], "wallbox", "wallbox-pulsar-plus", args[2], "ws://csms/ocpp"
                )
                if written.created:
                    self.chargers.append(written.id)
                    self.owner[written.id] = tenant
            elif kind == "update_location":
                self.app.update_location(actor, target, args[1])
            elif kind == "delete_location":
                self.app.delete_location(actor, target)
            elif kind == "update_charger":
                theirs = [key for key in self.locations if self.owner[key] == tenant]
                move_to = self.pick(theirs, args[2]) if args[2] is not None else None
                self.app.update_charger(actor, target, args[1], location_id=move_to)
            elif kind == "run_charger":
                (self.app.start_charger if args[1] else self.app.stop_charger)(actor, target, {})
            elif kind == "delete_charger":
                self.app.delete_charger(actor, target)
        except DomainError:
            pass


def run_bounded(coroutine: Any) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coroutine, EXAMPLE_SECONDS)

    return asyncio.run(bounded())


def table_contents(path: Path) -> dict[str, list[tuple]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        contents = {
            table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in (*VIEW_TABLES, "tracking")
        }
    finally:
        connection.close()
    return contents


# -- (a) rebuilt views equal live views ----------------------------------------------------------------


@FEW
@given(history=HISTORIES, batch_size=st.integers(1, 4))
def test_views_rebuilt_from_the_events_equal_the_live_views_that_followed_along(history, batch_size):
    async def check(scratch: Path) -> None:
        app = build_gateway(Settings(data_dir=scratch / "data"))
        live = Views(scratch / "live.sqlite", app, batch_size=batch_size)
        await live.open()
        commands = History(app)
        for step, catch_up_now in history:
            commands.run(step)
            if catch_up_now:
                await live.catch_up()
        await live.catch_up()
        rebuilt = Views(scratch / "rebuilt.sqlite", app)
        await rebuilt.open()
        applied, _ = await rebuilt.rebuild()
        assert applied == app.position() == live.position
        events = app.position()
        await live.close()
        await rebuilt.close()
        app.close()
        ours, theirs = table_contents(scratch / "live.sqlite"), table_contents(scratch / "rebuilt.sqlite")
        assert ours == theirs
        assert len(ours["events"]) == events, "every event of this history names its tenant"

    with tempfile.TemporaryDirectory(prefix="audit-prop-") as scratch:
        run_bounded(check(Path(scratch)))


# -- (b) as_of --------------------------------------------------------------------------------------------


def events_by_aggregate(app: Gateway) -> dict[UUID, tuple[type, list[Any]]]:
    """Every location's and charger's events, read from the log (not from the aggregate's own stream)."""
    found: dict[UUID, tuple[type, list[Any]]] = {}
    for notification in app.recorder.select_notifications(1, 100_000):
        topic = notification.topic
        kind = Location if topic.startswith(LOCATION_PREFIX) else Charger if topic.startswith(CHARGER_PREFIX) else None
        if kind is not None:
            event = app.mapper.to_domain_event(notification)
            found.setdefault(event.originator_id, (kind, []))[1].append(event)
    return found


@FEW
@given(history=HISTORIES)
def test_a_resource_as_of_the_moment_of_any_of_its_events_is_its_state_right_after_that_event(history):
    async def check(scratch: Path) -> None:
        config = Settings(data_dir=scratch / "data", jwt_secret=SECRET)
        app = build_gateway(config)
        views = Views(config.views_path, app)
        await views.open()
        commands = History(app)
        for step, _ in history:
            commands.run(step)
        await views.catch_up()
        quart_app = create_app(Services(app, views, default_catalog(), TokenVerifier(config), "test"))

        async def as_of(tenant: str, kind: type, key: UUID, moment: Any) -> dict | None:
            try:
                return await state_as_of(who(tenant), kind, key, moment)
            except HttpError as error:  # no state at that moment
                assert error.status == 404
                return None
            except NotFound:  # not one of the tenant's (the route answers 404 for both)
                return None

        async with quart_app.app_context():
            for key, (kind, events) in events_by_aggregate(app).items():
                fold = fold_location if kind is Location else fold_charger
                present = (lambda doc: doc) if kind is Location else present_charger
                owner = events[0].tenant_id
                stranger = next(t for t in TENANTS if t != owner)
                first = events[0].timestamp
                assert await as_of(owner, kind, key, first - timedelta(microseconds=1)) is None
                assert await as_of(stranger, kind, key, first) is None
                state = None
                for index, event in enumerate(events):
                    state = fold(state, event)
                    state = state if state is None else present(state)
                    if index + 1 < len(events) and events[index + 1].timestamp == event.timestamp:
                        continue  # one instant, several events: as_of sees all of them
                    assert await as_of(owner, kind, key, event.timestamp) == state
                    elsewhere = event.timestamp.astimezone(timezone(timedelta(hours=-3)))
                    assert await as_of(owner, kind, key, elsewhere) == state
                    naive = event.timestamp.astimezone(UTC).replace(tzinfo=None)
                    assert await as_of(owner, kind, key, naive) == state
                served = await (views.location if kind is Location else views.charger)(owner, str(key))
                if served is not None:
                    served = {k: v for k, v in served.items() if k not in RUNTIME_KEYS}
                assert served == state, "the latest state as_of now is what the live view serves"
        await views.close()
        app.close()

    with tempfile.TemporaryDirectory(prefix="audit-prop-") as scratch:
        run_bounded(check(Path(scratch)))


# -- (c) tampering breaks the chain ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A small store of two tenants with every kind of location and charger event; (data dir, events)."""
    data = tmp_path_factory.mktemp("template") / "data"
    app = build_gateway(Settings(data_dir=data))
    commands = History(app)
    for tenant in TENANTS:
        commands.run(("create_location", tenant, "Hub"))
        commands.run(("create_location", tenant, "Depot"))
    for step in [
        ("create_charger", "owner", 0, "CP-1", "Type2"),
        ("create_charger", "owner", 0, "CP-2", "Type2"),
        ("create_charger", "owner", 2, "CP-1", "Type2"),
        ("update_charger", "owner", 1, {"name": "Bay 1"}, 1),
        ("run_charger", "owner", 0, False),
        ("update_location", "owner", 0, {"city": "Lyon"}),
        ("delete_charger", "owner", 0),
        ("delete_location", "owner", 3),
    ]:
        commands.run(step)
    events = app.position()
    app.close()
    return data, events


def tamper(data: Path, position: int, column: str, value: Any) -> Any:
    """Writes `value` into one column of one stored event; returns the column's previous value."""
    connection = sqlite3.connect(data / "events.sqlite")
    try:
        with connection:
            (before,) = connection.execute(
                f"SELECT {column} FROM stored_events WHERE rowid = ?", (position,)
            ).fetchone()
            connection.execute(f"UPDATE stored_events SET {column} = ? WHERE rowid = ?", (value, position))
        return before
    finally:
        connection.close()


def read_column(data: Path, position: int, column: str) -> Any:
    connection = sqlite3.connect(data / "events.sqlite")
    try:
        return connection.execute(f"SELECT {column} FROM stored_events WHERE rowid = ?", (position,)).fetchone()[0]
    finally:
        connection.close()


def changed_bytes(original: bytes, edits: list[tuple[int, int]]) -> bytes:
    changed = bytearray(original)
    for index, flip in edits:
        changed[index % len(changed)] ^= flip
    return bytes(changed)


def changed_text(original: str, edits: list[tuple[int, str]]) -> str:
    changed = list(original)
    for index, character in edits:
        changed[index % len(changed)] = character
    return "".join(changed)


EDITS = st.one_of(
    st.tuples(
        st.just("state"), st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), min_size=1, max_size=4)
    ),
    st.tuples(
        st.just("topic"),
        st.lists(st.tuples(st.integers(0, 200), st.characters(exclude_categories=["Cs"])), min_size=1, max_size=3),
    ),
    st.tuples(st.just("originator_version"), st.integers(-(2**63), 2**63 - 1)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.integers(1, 10_000), edit=EDITS)
def test_changing_any_bytes_of_a_stored_event_breaks_the_chain_at_that_event(template_store, where, edit):
    template, events = template_store
    position = 1 + where % events
    column, change = edit
    with tempfile.TemporaryDirectory(prefix="audit-tamper-") as scratch:
        data = Path(scratch) / "data"
        shutil.copytree(template, data)
        original = read_column(data, position, column)
        if column == "state":
            value: Any = changed_bytes(original, change)
        elif column == "topic":
            value = changed_text(original, change)
        else:
            value = change
        assume(value != original)  # a no-op is no tampering
        try:
            tamper(data, position, column, value)
        except sqlite3.IntegrityError:  # that version of that aggregate exists: the store itself refuses
            assume(False)
        app = build_gateway(Settings(data_dir=data))
        try:
            checked, problems = verify_chain(app)
        finally:
            app.close()
    assert checked == events
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"position {position}: link does not match")
