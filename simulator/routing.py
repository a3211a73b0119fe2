"""Frames from the CSMS: routed to the version's handlers, malformed ones answered, follow-ups held until the answer is
out.

A mixin of the Station (simulator/station.py): it uses the station's state and the version's hooks."""

from __future__ import annotations

import json
import logging
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, unpack

log = logging.getLogger("ocpplab.simulator")


class Routing:
    """Frames from the CSMS."""

    async def route_message(self, raw_msg: str) -> None:
        """Routes a frame from the CSMS; a malformed one gets the proper CallError and the connection stays up."""
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            await self._answer_malformed(raw_msg, error)
            return
        if isinstance(msg, Call):
            try:
                await self._handle_call(msg)
            except OCPPError as error:
                log.info("%s: refused %s: %s", self.spec.identity, msg.action, error)
                await self._send(self._call_error(msg.unique_id, error))  # type: ignore[attr-defined]
        else:
            self._response_queue.put_nowait(msg)  # type: ignore[attr-defined]

    async def _answer_malformed(self, raw: str, error: OCPPError) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            frame = None
        message_type = frame[0] if isinstance(frame, list) and frame else None
        if message_type in (3, 4):
            log.warning("%s: ignored a malformed answer from the CSMS: %.200s", self.spec.identity, raw)
            return  # never answer an answer
        message_id = str(frame[1]) if isinstance(frame, list) and len(frame) > 1 else "-1"
        log.warning("%s: malformed frame from the CSMS (%s): %.200s", self.spec.identity, error.code, raw)
        await self._send(self._call_error(message_id, error))  # type: ignore[attr-defined]

    def _call_error(self, message_id: str, error: OCPPError) -> str:
        """A CallError in this version's vocabulary (the library uses 2.0.1's FormatViolation for both)."""
        code = error.code
        if self.spec.ocpp_version == "OCPP1.6" and code == "FormatViolation":
            code = "FormationViolation"
        elif self.spec.ocpp_version != "OCPP1.6" and code == "FormationViolation":
            code = "FormatViolation"
        description = (error.description or code)[:255]
        details = error.details if isinstance(error.details, dict) else {}
        return json.dumps([4, message_id, code, description, details], separators=(",", ":"), default=str)

    async def _handle_call(self, msg: Any) -> Any:
        """Holds the follow-ups a handler schedules until its CallResult is on the wire (the library may
        validate the answer in a thread pool, so scheduling alone would not keep a follow-up CALL behind it)."""
        self._held: list[Any] | None = []
        held = self._held
        try:
            return await super()._handle_call(msg)  # type: ignore[misc]
        finally:
            self._held = None
            for coroutine in held:
                self._spawn(coroutine)

    def after(self, coroutine: Any) -> None:
        """Runs follow-up messages of a CSMS call after its answer went out (the answer comes first on the wire)."""
        if getattr(self, "_held", None) is not None:
            self._held.append(coroutine)  # type: ignore[union-attr]
        else:
            self._spawn(coroutine)
