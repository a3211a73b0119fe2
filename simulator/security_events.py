"""The standard security events a charge point reports (SecurityEventNotification), kept until they are delivered.

An event is noted when its occasion happens (a refused TLS handshake, a reset, an installed firmware, a certificate
the CSMS signed or that did not fit...) and sent once the charge point is booted: at once when it is connected,
else after the next boot. Events of one type not yet delivered are reported once, with the latest occasion.
Who reports: OCPP 2.0.1 stations and 1.6 charge points whose model implements the security whitepaper; every
charger reports a CSMS certificate that did not verify (a 1.6 charger on TLS profiles speaks that much of it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from domain.chargepoint.certificates import security_event_type
from simulator.model import ChargerSpec, now_iso
from simulator.proxy import build_call

if TYPE_CHECKING:
    from collections.abc import Coroutine

log = logging.getLogger("ocpplab.simulator.security")
EVERY_CHARGER = frozenset({"InvalidCsmsCertificate"})


def has_security_extension(spec: ChargerSpec) -> bool:
    """Whether the charger speaks OCPP security beyond TLS: 2.0.1, or a 1.6 model with the whitepaper."""
    return spec.ocpp_version != "OCPP1.6" or bool(spec.model.get("ocpp16_security"))


def note_security_event(spec: ChargerSpec, pending: dict[str, dict[str, str]], kind: str, info: str) -> bool:
    """Notes an event (`kind`: its 2.0.1 name) for the next report, when this charger reports it; True if so."""
    if kind not in EVERY_CHARGER and not has_security_extension(spec):
        return False
    pending[kind] = {"timestamp": now_iso(), "tech_info": info[:255]}
    return True


class SecurityEvents:
    """Mixed into the Station; the runner hands it the pending events of its charger (`security_events`)."""

    spec: ChargerSpec
    ready: bool
    if TYPE_CHECKING:

        def after(self, coroutine: Coroutine[Any, Any, None]) -> None: ...
        async def call(self, message: Any) -> Any: ...

    @property
    def pending_security_events(self) -> dict[str, dict[str, str]]:
        return self.__dict__.setdefault("security_events", {})

    def security_event(self, kind: str, info: str, *, now: bool = True) -> None:
        """Notes an event; reports it once the answer in progress went out (`now`, when booted), else after the
        next boot."""
        if note_security_event(self.spec, self.pending_security_events, kind, info) and now and self.ready:
            self.after(self.report_security_events())

    async def report_security_events(self) -> None:
        """Sends the pending events, oldest first; one the CSMS does not answer stays for the next connection."""
        lock: asyncio.Lock = self.__dict__.setdefault("_security_lock", asyncio.Lock())
        async with lock:
            pending = self.pending_security_events
            for kind, noted in sorted(pending.items(), key=lambda item: item[1]["timestamp"]):
                payload = {"type": security_event_type(kind, self.spec.ocpp_version), **noted}
                try:
                    await self.call(build_call(self.spec.ocpp_version, "security_event_notification", payload))
                except Exception:  # the connection ended or no answer: kept for the next connection
                    log.info("%s: SecurityEventNotification %s not delivered", self.spec.identity, kind, exc_info=True)
                    return
                if pending.get(kind) is noted:  # answered, or refused with a CallError: not sent again
                    del pending[kind]
