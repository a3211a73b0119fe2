"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.catalog.loader import default_catalog
from adapters.http.app import create_app
from adapters.http.context import Services
from adapters.settings import Settings
from adapters.store.views import Views
from adapters.tokens import TokenVerifier
from application.gateway import Gateway
from tests.support import SECRET, GatewayProcess, postgres_schema, token


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Runs a test once on the embedded SQLite store and once on PostgreSQL."""
    if request.param == "sqlite":
        yield None
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture
def settings(tmp_path: Path, store_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=store_url, jwt_secret=SECRET)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", jwt_secret=SECRET)


def make_services(settings: Settings) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    gateway = Gateway(default_catalog(), env=settings.event_store_env())
    return Services(gateway, Views(settings.views_path, gateway), default_catalog(), TokenVerifier(settings), "test")


@pytest.fixture
async def client(sqlite_settings: Settings) -> AsyncIterator:
    """A Quart test client over a real SQLite store (no sockets): fast, for many small HTTP tests."""
    app = create_app(make_services(sqlite_settings))
    async with app.test_app() as test_app:
        yield test_app.test_client()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('acme')}"}


@pytest.fixture
def gateway_process(tmp_path: Path, store_url: str | None) -> Iterator[GatewayProcess]:
    """A real server process on a free port, on SQLite and on PostgreSQL."""
    server = GatewayProcess(tmp_path / "data", store_url).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One real server process on SQLite shared by a module's contract tests."""
    server = GatewayProcess(tmp_path_factory.mktemp("contract") / "data").start()
    yield server
    server.stop()
