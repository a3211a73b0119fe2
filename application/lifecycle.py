"""Use cases of a charger's lifecycle from the API: start, stop and reset, each a desired state plus a command."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from application.base import GatewayBase
from application.ports import Actor
from application.results import Queued
from domain.charger import Charger
from domain.command import Command


class LifecycleUseCases(GatewayBase):
    """start-charger / stop-charger / reset-charger: desired runtime state plus a command record."""

    def start_charger(self, actor: Actor, charger_id: UUID, payload: dict[str, Any]) -> Queued:
        return self._lifecycle(actor, charger_id, "start_charger", payload, running=True)

    def stop_charger(self, actor: Actor, charger_id: UUID, payload: dict[str, Any]) -> Queued:
        return self._lifecycle(actor, charger_id, "stop_charger", payload, running=False)

    def reset_charger(self, actor: Actor, charger_id: UUID, payload: dict[str, Any]) -> Queued:
        return self._lifecycle(actor, charger_id, "reset_charger", payload, running=None)

    def _lifecycle(
        self, actor: Actor, charger_id: UUID, kind: str, payload: dict[str, Any], running: bool | None
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
