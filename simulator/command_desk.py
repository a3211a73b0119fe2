"""Commands from the API: queued per charge point, carried out one at a time in order, outcomes reported to the fleet.

A mixin of the Station (simulator/station.py): it uses the station's state and the version's hooks."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from domain.command import LOCAL_KINDS
from simulator.local_state import apply_local
from simulator.model import CommandRefused, Offline, Ticket

log = logging.getLogger("ocpplab.simulator")


class CommandDesk:
    """Commands from the API."""

    def submit(self, ticket: Ticket) -> None:
        self.commands.put_nowait(ticket)

    def return_unstarted(self) -> None:
        """The connection (or the station) ended: commands not started go back to the fleet, which hands them
        over again when the station can take them (they are still queued)."""
        while not self.commands.empty():
            self.commands.get_nowait().returned()

    async def _serve_commands(self) -> None:
        """One command at a time, in the order the API queued them."""
        while True:
            ticket = await self.commands.get()
            ticket.started()
            try:
                result = await self.perform(ticket.kind, ticket.payload)
            except CommandRefused as refused:
                ticket.finished(None, refused.reason, refused.result)
            except TimeoutError:
                ticket.finished(None, "timeout: the CSMS did not answer within the response timeout", None)
            except Offline:
                ticket.finished(None, "failed: the connection to the CSMS ended before the command finished", None)
            except asyncio.CancelledError:
                ticket.finished(None, "failed: the charger stopped before the command finished", None)
                raise
            except Exception as error:
                log.warning("%s: %s failed", self.spec.identity, ticket.kind, exc_info=True)
                ticket.finished(None, f"failed: {error}", None)
            else:
                ticket.finished(result, None, None)

    async def perform(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Carries out one command; `do_<kind>` methods take the payload's fields."""
        if kind in LOCAL_KINDS:
            return self.apply_local(kind, payload)
        handler = getattr(self, f"do_{kind}", None)
        if handler is None:
            raise CommandRefused(f"not possible: {kind} is not supported by this charge point")
        return await handler(**payload)

    def apply_local(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return apply_local(kind, payload, self.runtime, self.configuration, self.auth_cache, self.observe_local)  # type: ignore[attr-defined]
        except ValueError as error:
            raise CommandRefused(str(error)) from None

    def observe_local(self, observation: str, *details: Any) -> None:
        self.observe(observation, *details)
        if observation == "configuration_changed":
            self.on_configuration_changed(details[0], details[1])
