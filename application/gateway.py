"""The gateway application: tenants, locations and chargers as event-sourced aggregates.

`Gateway` only composes the use cases; each mixin lives in a module named for its job and subclasses
`GatewayBase` (application/base.py), which holds what they share.
"""

from __future__ import annotations

from application.base import GatewayBase
from application.chargers import ChargerUseCases
from application.commands import CommandUseCases
from application.history import HistoryUseCases
from application.lifecycle import LifecycleUseCases
from application.locations import LocationUseCases
from application.observations import SimulatorUseCases
from application.tenants import TenantUseCases
from domain.charger import Charger
from domain.location import Location
from domain.runtime import ChargerRuntime


class Gateway(
    LifecycleUseCases,
    CommandUseCases,
    SimulatorUseCases,
    TenantUseCases,
    LocationUseCases,
    ChargerUseCases,
    HistoryUseCases,
    GatewayBase,
):
    """Records every change as events that carry who caused them; decisions stay in the aggregates."""

    name = "Gateway"
    is_snapshotting_enabled = True
    snapshotting_intervals = {Location: 200, Charger: 200, ChargerRuntime: 200}  # noqa: RUF012 - library attribute
