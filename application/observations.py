"""Use cases of the simulator: what it reads back and records (frames, runtime observations, command outcomes)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.base import GatewayBase
from application.ports import Actor
from domain.command import Command
from domain.frames import FrameRecorded, frame_log_id
from domain.runtime import ChargerRuntime, runtime_id


def simulator_actor(tenant_id: str, request_id: str = "") -> Actor:
    return Actor(sub="simulator", role="simulator", tenant_id=tenant_id, request_id=request_id)


class SimulatorUseCases(GatewayBase):
    """What the simulator records: frames, runtime observations, command outcomes."""

    def last_frame_version(self, charger_id: UUID) -> int:
        """The version of the newest frame of a charger's stream (0 when it has none)."""
        newest = list(self.events.get(frame_log_id(charger_id), desc=True, limit=1))
        return newest[0].originator_version if newest else 0

    def recent_frames(self, charger_id: UUID, limit: int) -> list[FrameRecorded]:
        """A charger's newest `limit` recorded frames, oldest first (what its diagnostics file holds)."""
        return list(self.events.get(frame_log_id(charger_id), desc=True, limit=limit))[::-1]

    def runtime_for(self, tenant_id: str, charger_id: UUID) -> ChargerRuntime:
        """The charger's observed state, opened (unsaved) the first time the simulator runs it."""
        try:
            return self.repository.get(runtime_id(charger_id))
        except AggregateNotFoundError:
            return ChargerRuntime(tenant_id=tenant_id, charger_id=charger_id)


def collect_observed(aggregate: ChargerRuntime | Command) -> list[Any]:
    """Takes an aggregate's new events (the simulator's observations), each stamped with its cause."""
    metadata = simulator_actor(aggregate.tenant_id).metadata()
    events = aggregate.collect_events()
    for pending in events:
        object.__setattr__(pending, "meta", metadata)
    return events
