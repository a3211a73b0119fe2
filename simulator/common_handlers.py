"""What both OCPP versions send and answer alike, in the version's own message classes (`messages`: its `call`
module, `results`: its `call_result` module): the ocpp library routes by action name, so one handler serves both."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on


class CommonHandlers:
    """Mixed into the Station; the version module sets `messages` and `results`."""

    messages: Any
    results: Any

    async def send_boot(self, reason: str = "PowerUp") -> tuple[str, int]:
        """Sends the version's BootNotification (2.0.1 says why); returns (status, interval)."""
        answer = await self.call(self.boot_request(reason))  # type: ignore[attr-defined]
        if answer is None:
            return "CallError", 0
        return answer.status, int(answer.interval)

    def boot_request(self, reason: str) -> Any:
        raise NotImplementedError

    async def send_heartbeat(self) -> None:
        await self.call(self.messages.Heartbeat())  # type: ignore[attr-defined]

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any):
        return self.results.DataTransfer(status="UnknownVendorId")

    @on("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, **_: Any):
        cancelled = self.cancel_reservation(reservation_id)  # type: ignore[attr-defined]
        return self.results.CancelReservation(status="Accepted" if cancelled else "Rejected")

    async def start_claimed(self, connector: Any, id_tag: str, report_status: bool) -> dict[str, Any]:
        """A start by command: the connector is claimed until the transaction began (or did not). Offline the charge
        point itself decides whether the tag may start (online the CSMS's StartTransaction / Started answer does)."""
        self.claim(connector)  # type: ignore[attr-defined]
        try:
            if not self.ready:  # type: ignore[attr-defined]
                verdict = await self.authorize_for_start(id_tag)  # type: ignore[attr-defined]
                if not verdict.accepted:
                    raise self.rejected(verdict)  # type: ignore[attr-defined]
            return await self._start(connector, id_tag, report_status=report_status)  # type: ignore[attr-defined]
        finally:
            self.release(connector)  # type: ignore[attr-defined]
