"""The queue of transaction-related messages (OCPP 1.6 "transaction-related messages"; 2.0.1 E and the offline
TransactionEvent rules): what a charge point must deliver to the CSMS in the order it happened, whether the CSMS
was reachable at the time or not.

Pure: instants are passed in. A message waits at the head until the CSMS processed it; a CallError (or no answer)
counts as a failed attempt and the message is tried again after `interval x attempts`, until `max_attempts` are
spent (then it is dropped, as the specifications say). 1.6 numbers a transaction only in the StartTransaction
answer: a transaction begun offline carries the charger's own reference, and the messages queued behind its
StartTransaction take the CSMS's number when they are delivered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

TRANSACTION_ACTIONS = ("StartTransaction", "StopTransaction", "MeterValues", "TransactionEvent")
CAPACITY = 5000  # messages a charge point holds; past it the oldest periodic meter sample makes room (never the
# head, a start or a stop: without a sample to shed, the queue holds more)


def is_periodic_sample(action: str, payload: dict[str, Any]) -> bool:
    """A message the queue may shed when full: a periodic meter sample (never a start or a stop)."""
    if action == "MeterValues":
        return True
    return action == "TransactionEvent" and payload.get("event_type") == "Updated"


@dataclass(frozen=True)
class QueuedMessage:
    """One transaction-related message, as the ocpp library's call dataclass takes it (snake_case fields)."""

    seq: int
    action: str
    payload: dict[str, Any]
    queued_at: str  # when it happened (ISO 8601): its timestamps inside the payload say the same
    transaction_ref: str | None = None  # 1.6: the charger's own reference of a transaction the CSMS did not number
    attempts: int = 0
    retry_at: str | None = None  # after a failed attempt: not before this instant (ISO 8601)

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> QueuedMessage:
        return cls(**record)


@dataclass
class TransactionQueue:
    """The messages in the order they happened; `numbers` maps a 1.6 transaction's own reference to the CSMS's id."""

    messages: list[QueuedMessage] = field(default_factory=list)
    numbers: dict[str, int] = field(default_factory=dict)
    capacity: int = CAPACITY
    next_seq: int = 0  # 0: one past the last queued message

    def __post_init__(self) -> None:
        self.next_seq = max(self.next_seq, max((m.seq for m in self.messages), default=0) + 1)

    @classmethod
    def recorded(cls, records: Iterable[dict[str, Any]], numbers: dict[str, int] | None = None) -> TransactionQueue:
        messages = sorted((QueuedMessage.from_record(r) for r in records), key=lambda m: m.seq)
        return cls(messages, dict(numbers or {}))

    def __len__(self) -> int:
        return len(self.messages)

    def push(
        self, action: str, payload: dict[str, Any], at: datetime, transaction_ref: str | None = None
    ) -> tuple[QueuedMessage, QueuedMessage | None]:
        """Appends a message; returns it and the one shed to make room (None when there was room)."""
        if action not in TRANSACTION_ACTIONS:
            raise ValueError(f"{action} is not a transaction-related message")
        shed = self._make_room()
        message = QueuedMessage(self.next_seq, action, payload, at.isoformat(), transaction_ref)
        self.next_seq += 1
        self.messages.append(message)
        return message, shed

    def head(self) -> QueuedMessage | None:
        return self.messages[0] if self.messages else None

    def due_at(self) -> datetime | None:
        """When the head may be sent (None: nothing queued); a past instant means now."""
        head = self.head()
        if head is None:
            return None
        return datetime.fromisoformat(head.retry_at or head.queued_at)

    def outgoing(self, message: QueuedMessage) -> dict[str, Any] | None:
        """The payload as it goes on the wire: a 1.6 transaction's own reference replaced by the CSMS's number
        (None when the CSMS never numbered it: its StartTransaction was dropped)."""
        if message.transaction_ref is None or message.action == "StartTransaction":
            return message.payload
        number = self.numbers.get(message.transaction_ref)
        return None if number is None else {**message.payload, "transaction_id": number}

    def holds(self, seq: int) -> bool:
        return any(m.seq == seq for m in self.messages)

    def delivered(self, seq: int, transaction_id: int | None = None) -> QueuedMessage:
        """The CSMS processed message `seq` (the head); a StartTransaction's answer numbers its transaction."""
        message = self._pop(seq)
        if message.action == "StartTransaction" and message.transaction_ref is not None and transaction_id is not None:
            self.numbers[message.transaction_ref] = transaction_id
        self._forget_number_if_unused(message.transaction_ref)
        return message

    def resolved(self, message: QueuedMessage) -> QueuedMessage:
        """The message as it can be kept without the numbers: its transaction's number written in when known."""
        if message.transaction_ref is None or message.action == "StartTransaction":
            return message
        payload = self.outgoing(message)
        return message if payload is None else replace(message, payload=payload, transaction_ref=None)

    def attempt_failed(self, seq: int, now: datetime, max_attempts: int, interval_s: int) -> QueuedMessage | None:
        """A CallError (or no answer): the message is tried again after `interval x attempts`; returns it, or None
        when its attempts are spent and it was dropped."""
        index = self._index(seq)
        message = self.messages[index]
        attempts = message.attempts + 1
        if attempts >= max(1, max_attempts):
            self._pop(seq)
            self._forget_number_if_unused(message.transaction_ref)
            return None
        retry_at = now + timedelta(seconds=max(0, interval_s) * attempts)
        self.messages[index] = replace(message, attempts=attempts, retry_at=retry_at.isoformat())
        return self.messages[index]

    def withdraw(self, seq: int) -> QueuedMessage:
        """Takes a message back before it was processed (a start the CSMS refused with a CallError never began)."""
        return self._pop(seq)

    def references(self, transaction_ref: str) -> bool:
        return any(m.transaction_ref == transaction_ref for m in self.messages)

    def _make_room(self) -> QueuedMessage | None:
        if len(self.messages) < self.capacity:
            return None
        periodic = next((m for m in self.messages[1:] if is_periodic_sample(m.action, m.payload)), None)
        return None if periodic is None else self._pop(periodic.seq)

    def _forget_number_if_unused(self, transaction_ref: str | None) -> None:
        """A number is kept while a queued message still refers to its transaction."""
        if transaction_ref in self.numbers and not self.references(transaction_ref):  # type: ignore[operator]
            del self.numbers[transaction_ref]  # type: ignore[arg-type]

    def _index(self, seq: int) -> int:
        for index, message in enumerate(self.messages):
            if message.seq == seq:
                return index
        raise KeyError(seq)

    def _pop(self, seq: int) -> QueuedMessage:
        return self.messages.pop(self._index(seq))
