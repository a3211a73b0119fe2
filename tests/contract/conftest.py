"""Fixtures for the SDK contract tests: vendor SDK clients against a real gateway process.

Every test names its own tenant (`org`), so tests can share the session's SQLite server without seeing
each other's locations and chargers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from ocpplab import OcpplabApi
from ocpplab.types import ChargerResponse, LocationResponse

from tests.contract.sdk import PULSAR_PLUS, SDK_TIMEOUT, SITE, new_org
from tests.support import GatewayProcess, token


@pytest.fixture
def org() -> str:
    """This test's own tenant."""
    return new_org()


@pytest.fixture
def connect(sqlite_server: GatewayProcess) -> Iterator[Callable[..., OcpplabApi]]:
    """Builds SDK clients for the shared server: a user token of `org`, an admin token, a given bearer or none.

    Each client gets its own connection pool (as separate SDK users would), closed when the test ends.
    """
    pools: list[httpx.Client] = []

    def build(
        org: str | None = None, *, role: str = "user", organization_id: str | None = None, bearer: str | None = None
    ) -> OcpplabApi:
        if bearer is None and (org is not None or role == "admin"):
            bearer = token(org, role)
        pools.append(httpx.Client(timeout=SDK_TIMEOUT))
        return OcpplabApi(
            base_url=sqlite_server.base_url, token=bearer, organization_id=organization_id, httpx_client=pools[-1]
        )

    yield build
    for pool in pools:
        pool.close()


@pytest.fixture
def client(connect: Callable[..., OcpplabApi], org: str) -> OcpplabApi:
    """The SDK as a user of this test's tenant."""
    return connect(org)


@pytest.fixture
def new_location(client: OcpplabApi) -> Callable[..., LocationResponse]:
    """Creates a location (in this test's tenant unless another client is given)."""

    def create(sdk: OcpplabApi | None = None, **fields: Any) -> LocationResponse:
        return (sdk or client).locations.create_location(**{**SITE, **fields})

    return create


@pytest.fixture
def new_charger(client: OcpplabApi) -> Callable[..., ChargerResponse]:
    """Creates a Pulsar Plus charger (in this test's tenant unless another client is given)."""

    def create(sdk: OcpplabApi | None = None, **fields: Any) -> ChargerResponse:
        return (sdk or client).charger_deployments.create_charger(**{**PULSAR_PLUS, **fields})

    return create
