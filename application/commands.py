"""Use cases of the commands a user sends to running chargers, and the charge point state the API reads back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from application.base import GatewayBase
from application.ports import Actor
from application.results import Queued
from domain.chargepoint.smart_charging import installed_report
from domain.charger import Charger
from domain.command import LOCAL_KINDS, Command, command_payload
from domain.configuration import Configuration16, DeviceModel201, configuration_for
from domain.errors import DomainError, InvalidValue
from domain.runtime import ChargerRuntime, runtime_id


class CommandUseCases(GatewayBase):
    """Commands are records: the API queues them, the simulator carries them out and records the outcome."""

    def request_command(self, actor: Actor, charger_id: UUID, kind: str, body: dict[str, Any]) -> Queued:
        charger = self._owned(Charger, actor, charger_id, "charger")
        command = self._command_for(actor, charger, kind, body)
        return Queued(command, charger, self._save(actor, command))

    def request_commands(
        self, actor: Actor, charger_ids: list[UUID], kind: str, body: dict[str, Any]
    ) -> dict[UUID, Queued | DomainError]:
        """One command per charger, saved together (a location fan-out): each charger accepts or refuses alone."""
        outcomes: dict[UUID, Queued | DomainError] = {}
        commands: dict[UUID, tuple[Command, Charger]] = {}
        for charger_id in charger_ids:
            try:
                charger = self._owned(Charger, actor, charger_id, "charger")
                commands[charger_id] = (self._command_for(actor, charger, kind, body), charger)
            except DomainError as error:
                outcomes[charger_id] = error
        if commands:
            position = self._save(actor, *(command for command, _ in commands.values()))
            for charger_id, (command, charger) in commands.items():
                outcomes[charger_id] = Queued(command, charger, position)
        return outcomes

    def _command_for(self, actor: Actor, charger: Charger, kind: str, body: dict[str, Any]) -> Command:
        if kind not in LOCAL_KINDS:
            charger.require_running()
        payload = command_payload(kind, charger.ocpp_version, int(charger.model["connector_count"]), body)
        if kind == "set_configuration":
            self._check_configuration(charger, payload["changes"])
        return Command(
            tenant_id=actor.tenant_id,
            charger_id=charger.id,
            kind=kind,
            payload=payload,
            ocpp_version=charger.ocpp_version.lower(),
        )

    def _check_configuration(self, charger: Charger, changes: dict[str, str]) -> None:
        if not changes:
            raise InvalidValue("configuration", "name at least one key to change")
        store = self._configuration_of(charger)
        problems = [problem for key, value in changes.items() if (problem := store.problem(key, value))]
        if problems:
            raise InvalidValue("configuration", "; ".join(problems))

    def charger_configuration(
        self, actor: Actor, charger_id: UUID, keys: list[str] | None
    ) -> list[dict[str, str | None]]:
        """The charger's configuration as its charge point holds it (all keys, or the keys asked that exist)."""
        charger = self._owned(Charger, actor, charger_id, "charger")
        entries, _ = self._configuration_of(charger).get(keys)
        return [{"key": entry.key, "value": entry.value, "readonly": entry.readonly} for entry in entries]

    def local_auth_list(self, actor: Actor, charger_id: UUID) -> dict[str, Any]:
        """The charge point's local authorization list: {"version", "entries"}."""
        charger = self._owned(Charger, actor, charger_id, "charger")
        runtime = self._runtime_of(charger)
        return runtime.local_list if runtime is not None else {"version": 0, "entries": []}

    def charging_profiles(self, actor: Actor, charger_id: UUID) -> dict[str, Any]:
        """The charging profiles the charge point holds (as recorded) and each connector's composite limit now."""
        charger = self._owned(Charger, actor, charger_id, "charger")
        runtime = self._runtime_of(charger)
        kept = runtime.charging_profiles if runtime is not None else {}
        transactions = runtime.transactions if runtime is not None else {}
        connectors = range(1, int(charger.model["connector_count"]) + 1)
        return installed_report(kept, transactions, connectors, charger.model, datetime.now(UTC))

    def _configuration_of(self, charger: Charger) -> Configuration16 | DeviceModel201:
        runtime = self._runtime_of(charger)
        overrides = runtime.configuration if runtime is not None else {}
        return configuration_for(charger.ocpp_version, charger.model, charger.identity, overrides)

    def _runtime_of(self, charger: Charger) -> ChargerRuntime | None:
        return self._get_or_none(ChargerRuntime, runtime_id(charger.id))
