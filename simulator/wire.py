"""The wire tap: every frame a charge point sends or receives is recorded, in order, with its raw text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from websockets.protocol import State

from domain.frames import CP_TO_CSMS, CSMS_TO_CP, FrameRecorded, frame_log_id

CALL, CALL_RESULT, CALL_ERROR = 2, 3, 4


class FrameSink(Protocol):
    def add_frame(self, frame: FrameRecorded) -> None: ...


class FrameStream:
    """One charger's frame log: numbers frames and names the action of results by the call they answer."""

    def __init__(self, charger_id: UUID, tenant_id: str, sink: FrameSink, last_version: int) -> None:
        self.charger_id = charger_id
        self.log_id = frame_log_id(charger_id)
        self.version = last_version
        self.sink = sink
        self.last_frame_at: datetime | None = None
        self._meta = {"tenant_id": tenant_id, "actor": {"sub": "simulator", "role": "simulator"}, "request_id": ""}
        self._open_calls: dict[str, str] = {}

    def record(self, direction: str, raw: str) -> None:
        message_type, message_id, action = self._describe(raw)
        self.version += 1
        at = datetime.now(UTC)
        self.last_frame_at = at
        frame = FrameRecorded(
            originator_id=self.log_id,
            originator_version=self.version,
            timestamp=at,
            charger_id=self.charger_id,
            direction=direction,
            message_type=message_type,
            action=action,
            message_id=message_id,
            raw=raw,
        )
        object.__setattr__(frame, "meta", self._meta)
        self.sink.add_frame(frame)

    def _describe(self, raw: str) -> tuple[int | None, str | None, str | None]:
        try:
            message: Any = json.loads(raw)
        except ValueError:
            return None, None, None
        if not isinstance(message, list) or len(message) < 3 or not isinstance(message[0], int):
            return None, None, None
        message_type, message_id = message[0], str(message[1])
        if message_type == CALL and isinstance(message[2], str):
            if len(self._open_calls) > 1000:  # answers that never came must not grow without bound
                self._open_calls.clear()
            self._open_calls[message_id] = message[2]
            return message_type, message_id, message[2]
        if message_type in (CALL_RESULT, CALL_ERROR):
            return message_type, message_id, self._open_calls.pop(message_id, None)
        return message_type, message_id, None


class RecordingConnection:
    """Wraps a websocket for the ocpp library: what goes through send/recv is recorded first."""

    def __init__(self, websocket: Any, stream: FrameStream) -> None:
        self.websocket = websocket
        self.stream = stream

    async def send(self, text: str) -> None:
        if self.websocket.state is State.OPEN:  # a closing connection refuses the frame: it never left
            self.stream.record(CP_TO_CSMS, text)
        await self.websocket.send(text)

    async def recv(self) -> str:
        text = await self.websocket.recv()
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.stream.record(CSMS_TO_CP, text)
        return text
