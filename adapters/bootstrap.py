"""The composition root: builds the gateway's parts from settings, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version

from quart import Quart

from adapters.catalog.loader import default_catalog
from adapters.http.app import create_app
from adapters.http.context import Services
from adapters.secret_box import AesSecretBox
from adapters.settings import Settings, postgres_connection_args
from adapters.store.views import Views
from adapters.stream_tickets import StreamTickets
from adapters.tokens import TokenVerifier
from application.gateway import Gateway
from simulator.fleet import Fleet

SETUP_LOCK = 7_302_161  # the advisory lock key serialising store set-up across processes


def package_version() -> str:
    try:
        return version("ocpplab-gateway")
    except PackageNotFoundError:
        return "0.0.0"


def build_gateway(settings: Settings) -> Gateway:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = settings.event_store_env()
    box = AesSecretBox.for_settings(settings)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        with postgres_setup_lock(env):  # processes starting together must not race creating tables and types
            if env.get("POSTGRES_SCHEMA"):
                create_postgres_schema(env)
            gateway = Gateway(default_catalog(), env=env, secrets=box)
    else:
        gateway = Gateway(default_catalog(), env=env, secrets=box)
    if hasattr(gateway.recorder, "chain_key"):
        gateway.recorder.chain_key = box.chain_key()  # type: ignore[attr-defined]
    return gateway


@contextmanager
def postgres_setup_lock(env: dict[str, str]) -> Iterator[None]:
    """A session advisory lock held while one process creates the store's schema, tables and types."""
    import psycopg

    with psycopg.connect(**postgres_connection_args(env)) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))


def create_postgres_schema(env: dict[str, str]) -> None:
    """The schema named in OCPPLAB_DATABASE_URL (?schema=...) is created if it does not exist yet."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(**postgres_connection_args(env)) as connection:
        exists = connection.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (env["POSTGRES_SCHEMA"],)
        ).fetchone()
        if not exists:  # CREATE SCHEMA needs a privilege a role may lack even when the schema is there
            connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(env["POSTGRES_SCHEMA"])))


def build_services(settings: Settings, with_simulator: bool = True) -> Services:
    """The API's parts; `serve` also runs the simulator in-process, `api` does not."""
    gateway = build_gateway(settings)
    return Services(
        gateway=gateway,
        views=Views(settings.views_path, gateway),
        catalog=default_catalog(),
        verifier=TokenVerifier(settings),
        version=package_version(),
        fleet=Fleet(gateway) if with_simulator else None,
        tickets=StreamTickets(gateway.secrets.ticket_key() if isinstance(gateway.secrets, AesSecretBox) else None),
    )


def build_app(settings: Settings | None = None, with_simulator: bool = True) -> Quart:
    return create_app(build_services(settings or Settings.from_env(), with_simulator))
