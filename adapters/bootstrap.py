"""The composition root: builds the gateway's parts from settings, in one place."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from quart import Quart

from adapters.catalog.loader import default_catalog
from adapters.http.app import create_app
from adapters.http.context import Services
from adapters.secret_box import AesSecretBox
from adapters.settings import Settings
from adapters.store.views import Views
from adapters.tokens import TokenVerifier
from application.gateway import Gateway
from simulator.fleet import Fleet


def package_version() -> str:
    try:
        return version("ocpplab-gateway")
    except PackageNotFoundError:
        return "0.0.0"


def build_gateway(settings: Settings) -> Gateway:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = settings.event_store_env()
    if env.get("POSTGRES_SCHEMA"):
        create_postgres_schema(env)
    box = AesSecretBox.for_settings(settings)
    gateway = Gateway(default_catalog(), env=env, secrets=box)
    if hasattr(gateway.recorder, "chain_key"):
        gateway.recorder.chain_key = box.chain_key()  # type: ignore[attr-defined]
    return gateway


def create_postgres_schema(env: dict[str, str]) -> None:
    """The schema named in OCPPLAB_DATABASE_URL (?schema=...) is created if it does not exist yet."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        autocommit=True,
    ) as connection:
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
    )


def build_app(settings: Settings | None = None, with_simulator: bool = True) -> Quart:
    return create_app(build_services(settings or Settings.from_env(), with_simulator))
