"""What a simulated charge point is made of and hands around: its spec, its connectors, command tickets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from simulator.meter import Meter


@dataclass(frozen=True)
class ChargerSpec:
    """What the simulator runs, folded from the Charger's events (desired state)."""

    charger_id: UUID
    tenant_id: str
    identity: str
    ws_url: str
    ocpp_version: str  # "OCPP1.6" | "OCPP2.0.1"
    model: dict[str, Any]
    authorization_key: str | None = None  # sealed
    running: bool = True
    security_profile: int | None = None  # None: 2 for wss://, 1 for ws:// (simulator/tls.py)
    csms_ca_certificate: str | None = None  # PEM
    client_certificate: str | None = None  # PEM
    client_private_key: str | None = None  # sealed

    @property
    def subprotocol(self) -> str:
        return self.ocpp_version.lower()

    @property
    def url(self) -> str:
        """The CSMS URL with the identity as the last path segment (a query string stays a query string)."""
        parts = urlsplit(self.ws_url)
        return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{self.identity}"))


@dataclass
class Connector:
    """One connector as the charge point sees it, with the meter behind it."""

    evse_id: int
    connector_id: int
    status: str = "Available"
    error_code: str = "NoError"
    transaction_id: str | None = None
    id_tag: str | None = None
    reservation_id: int | None = None
    plugged: bool = False  # an EV's cable is in (plug-connector / start-session)
    fault: dict[str, Any] | None = None  # {"fault_type", "prior_status"} while a fault is injected
    meter: Meter = field(default_factory=lambda: Meter(max_power_w=0))
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.evse_id}/{self.connector_id}"

    @property
    def meter_wh(self) -> int:
        """The energy register now (Wh)."""
        self.meter.advance(time.monotonic())
        return self.meter.register_wh


class CommandRefused(Exception):
    """A command the charge point cannot carry out now, or that the CSMS turned down (the command fails)."""

    def __init__(self, reason: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result


class Offline(Exception):
    """The charge point has no connection to the CSMS, or lost it before the answer came."""


class Queued:
    """What a transaction message's sender gets when the message waits in the queue (offline): it is delivered in
    order after the next accepted boot."""

    def __repr__(self) -> str:
        return "QUEUED"


QUEUED = Queued()


@dataclass
class Ticket:
    """A command handed to a charge point; the fleet hears when it starts, ends, or comes back unstarted."""

    kind: str
    payload: dict[str, Any]
    started: Callable[[], None]
    finished: Callable[[dict[str, Any] | None, str | None, dict[str, Any] | None], None]
    returned: Callable[[], None]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
