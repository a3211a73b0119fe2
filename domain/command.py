"""A command: what a user asked a charger to do, and what became of it (queued, sent, completed or failed)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import Conflict

TERMINAL = frozenset({"completed", "failed", "expired"})


class Command(Aggregate):
    """Created by the API when a command is queued; the simulator records its outcome."""

    @event("Requested")
    def __init__(self, tenant_id: str, charger_id: UUID, kind: str, payload: dict[str, Any], ocpp_version: str) -> None:
        self.tenant_id = tenant_id
        self.charger_id = charger_id
        self.kind = kind
        self.payload = payload
        self.ocpp_version = ocpp_version
        self.status = "queued"
        self.result: dict[str, Any] | None = None
        self.reason: str | None = None
        self.message_id: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def mark_sent(self, message_id: str | None) -> None:
        self._check_open()
        if self.status == "queued":
            self._sent(message_id=message_id)

    @event("Sent")
    def _sent(self, message_id: str | None) -> None:
        self.status = "sent"
        self.message_id = message_id

    def complete(self, result: dict[str, Any]) -> None:
        self._check_open()
        self._completed(result=result)

    @event("Completed")
    def _completed(self, result: dict[str, Any]) -> None:
        self.status = "completed"
        self.result = result

    def fail(self, reason: str, result: dict[str, Any] | None = None) -> None:
        self._check_open()
        self._failed(reason=reason, result=result)

    @event("Failed")
    def _failed(self, reason: str, result: dict[str, Any] | None) -> None:
        self.status = "failed"
        self.reason = reason
        self.result = result

    def expire(self) -> None:
        self._check_open()
        self._expired()

    @event("Expired")
    def _expired(self) -> None:
        self.status = "expired"
        self.reason = "expired: the charger did not come online in time"

    def _check_open(self) -> None:
        if self.done:
            raise Conflict(f"command already {self.status}")
