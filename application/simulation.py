"""Use cases around running chargers: lifecycle commands from the API, observations from the simulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.ports import Actor
from domain.charger import Charger
from domain.command import Command
from domain.frames import frame_log_id
from domain.runtime import ChargerRuntime, runtime_id

if TYPE_CHECKING:
    from application.gateway import Gateway


@dataclass(frozen=True)
class Queued:
    """A command the API queued: the record, the charger it targets, and the log position of the write."""

    command: Command
    charger: Charger
    position: int


def simulator_actor(tenant_id: str, request_id: str = "") -> Actor:
    return Actor(sub="simulator", role="simulator", tenant_id=tenant_id, request_id=request_id)


class LifecycleUseCases:
    """start-charger / stop-charger / reset-charger: desired runtime state plus a command record."""

    def start_charger(self: Gateway, actor: Actor, charger_id: UUID, payload: dict[str, Any]) -> Queued:
        return self._lifecycle(actor, charger_id, "start_charger", payload, running=True)

    def stop_charger(self: Gateway, actor: Actor, charger_id: UUID, payload: dict[str, Any]) -> Queued:
        return self._lifecycle(actor, charger_id, "stop_charger", payload, running=False)

    def reset_charger(self: Gateway, actor: Actor, charger_id: UUID, payload: dict[str, Any]) -> Queued:
        return self._lifecycle(actor, charger_id, "reset_charger", payload, running=None)

    def _lifecycle(
        self: Gateway, actor: Actor, charger_id: UUID, kind: str, payload: dict[str, Any], running: bool | None
    ) -> Queued:
        def decide() -> Queued:
            charger = self._owned(Charger, actor, charger_id, "charger")
            if running is None:
                charger.require_running()
            else:
                charger.want_running(running)
            command = Command(
                tenant_id=actor.tenant_id,
                charger_id=charger.id,
                kind=kind,
                payload=payload,
                ocpp_version=charger.ocpp_version.lower(),
            )
            return Queued(command, charger, self._save(actor, charger, command))

        return self._retrying(decide)


class SimulatorUseCases:
    """What the simulator records: frames, runtime observations, command outcomes."""

    def last_frame_version(self: Gateway, charger_id: UUID) -> int:
        """The version of the newest frame of a charger's stream (0 when it has none)."""
        newest = list(self.events.get(frame_log_id(charger_id), desc=True, limit=1))
        return newest[0].originator_version if newest else 0

    def runtime_for(self: Gateway, tenant_id: str, charger_id: UUID) -> ChargerRuntime:
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
