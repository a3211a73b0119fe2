"""Transaction-related messages on their way to the CSMS: one queue, delivered in the order things happened, whether
the CSMS was reachable at the time or not (the rules are `domain.chargepoint.transaction_queue`).

Online, a message goes out at once (behind any older one) and its sender may wait for the answer; offline, it waits
in the queue, recorded on the runtime, and goes out after the next accepted boot, also after a gateway restart. A
CallError or a missing answer is an attempt: the message is tried again later, until its attempts are spent. Only
messages that did not go out at once are recorded, so an online charger's traffic costs no extra events.

A mixin of the Station (simulator/station.py): it uses the station's state and the version's hooks.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from application.waiting import wait_event
from domain.chargepoint.transaction_queue import QueuedMessage, TransactionQueue
from simulator.model import QUEUED, Offline

log = logging.getLogger("ocpplab.simulator")
MAX_WAIT = 3600.0


class Outbox:
    """Transaction-related messages on their way to the CSMS."""

    attempt_keys: tuple[str, str]  # the configuration keys of the attempts and of the retry interval (seconds)
    messages: Any  # the version's `call` module

    def setup_outbox(self) -> None:
        runtime = self.runtime  # type: ignore[attr-defined]
        self.outbox = TransactionQueue.recorded(runtime.transaction_queue.values(), runtime.transaction_numbers)
        self._recorded = {message.seq for message in self.outbox.messages}  # what the runtime holds
        self._outbox_changed = asyncio.Event()
        self._answers: dict[int, asyncio.Future] = {}
        self._withdrawing: set[int] = set()  # messages taken back when the CSMS does not process them

    async def send_transaction_message(
        self, message: Any, transaction_ref: str | None = None, wait: bool = True, withdraw_unprocessed: bool = False
    ) -> Any:
        """Queues `message` behind the earlier ones. Online and waiting: the CSMS's answer (None for a CallError;
        TimeoutError without one), or QUEUED when the connection ended first. Offline, or not waiting: QUEUED.
        `withdraw_unprocessed`: a CallError or a missing answer takes the message back instead of trying again
        (a start that does not begin)."""
        payload = {k: v for k, v in asdict(message).items() if v is not None}
        item, shed = self.outbox.push(type(message).__name__, payload, datetime.now(UTC), transaction_ref)
        if shed is not None:
            self._given_up(shed, "the queue was full")
        online = self.ready  # type: ignore[attr-defined]
        if not online:
            self._record_queued(item)
        self.deliver_soon()
        if not (online and wait):
            return QUEUED
        answer = asyncio.get_running_loop().create_future()
        self._answers[item.seq] = answer
        if withdraw_unprocessed:
            self._withdrawing.add(item.seq)
        try:
            return await answer
        finally:
            self._answers.pop(item.seq, None)
            self._withdrawing.discard(item.seq)

    def deliver_soon(self) -> None:
        """Wakes the delivery (a station with an empty queue keeps no task for it)."""
        self._outbox_changed.set()
        if self.outbox.messages:
            self.follow("outbox", self.deliver_transaction_messages)  # type: ignore[attr-defined]

    async def deliver_transaction_messages(self) -> None:
        """Sends the head whenever the charge point is online and the head is due, until the queue is empty."""
        while True:
            self._outbox_changed.clear()
            head, due = self.outbox.head(), self.outbox.due_at()
            if head is None or due is None:
                return
            if not self.ready:  # type: ignore[attr-defined]
                await wait_event(self._outbox_changed, MAX_WAIT)
                continue
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0:
                await wait_event(self._outbox_changed, min(MAX_WAIT, wait))
                continue
            await self._deliver(head)

    async def _deliver(self, item: QueuedMessage) -> None:
        payload = self.outbox.outgoing(item)
        if payload is None:
            self.outbox.withdraw(item.seq)
            self._given_up(item, "its transaction was never numbered by the CSMS")
            return
        try:
            answer = await self.call(getattr(self.messages, item.action)(**payload))  # type: ignore[attr-defined]
        except Offline:
            self.connection_lost_by_outbox()
            return
        except Exception as error:  # noqa: BLE001 - no answer in time, or one the library refused: an attempt all the same
            self._attempt_failed(item, f"{type(error).__name__}: {error}", error)
            return
        if answer is None:
            self._attempt_failed(item, "CallError")
            return
        number = getattr(answer, "transaction_id", None) if item.action == "StartTransaction" else None
        self.outbox.delivered(item.seq, number)
        if item.seq in self._recorded or item.transaction_ref in self.outbox.numbers:
            self._recorded.discard(item.seq)
            self.observe("transaction_message_delivered", item.seq, item.transaction_ref, number)  # type: ignore[attr-defined]
        if not self._answer(item.seq, answer):
            self.late_answer(item, answer)

    def _attempt_failed(self, item: QueuedMessage, why: str, error: Exception | None = None) -> None:
        """Tries the message again later (its sender, if one waits: None for a CallError, QUEUED without an answer,
        else the error); a start whose waiting sender asked so is taken back instead, unless merely unanswered
        (then it goes on as begun offline, as OCPP wants an unanswered message tried again)."""
        timeout = isinstance(error, TimeoutError)
        if not self.outbox.holds(item.seq):
            return
        if item.seq in self._withdrawing and not timeout:
            self.outbox.withdraw(item.seq)
            self._answer(item.seq, None, error)
            self._given_up(item, f"withdrawn ({why}): the transaction did not begin")
            return
        attempts_key, interval_key = self.attempt_keys
        configuration = self.configuration  # type: ignore[attr-defined]
        kept = self.outbox.attempt_failed(
            item.seq,
            datetime.now(UTC),
            configuration.int_value(attempts_key, 3),
            configuration.int_value(interval_key, 60),
        )
        log.info(
            "%s: %s #%d not processed (%s)%s",
            self.spec.identity,
            item.action,
            item.seq,
            why,
            "" if kept else ", given up",
        )  # type: ignore[attr-defined]
        if timeout and kept is not None:
            self._record_queued(kept)  # it waits for another attempt like a message queued offline
            self._answer(item.seq, QUEUED)
        else:
            self._answer(item.seq, None, None if timeout else error)
        if kept is None:
            self._given_up(item, f"attempts spent ({why})")

    def _answer(self, seq: int, answer: Any = None, exception: BaseException | None = None) -> bool:
        """Hands the outcome to a sender still waiting for it; False when none is."""
        waiting = self._answers.pop(seq, None)
        if waiting is None or waiting.done():
            return False
        if exception is not None:
            waiting.set_exception(exception)
        else:
            waiting.set_result(answer)
        return True

    def connection_lost_by_outbox(self) -> None:
        """The connection ended: what did not go out is recorded, and waiting senders learn it is queued."""
        for item in self.outbox.messages:
            self._record_queued(item)
        for seq in list(self._answers):
            self._answer(seq, QUEUED)

    def _record_queued(self, item: QueuedMessage) -> None:
        """Records a message that did not go out at once, with its transaction's number when it is known (so a
        restart needs no number that only this process held)."""
        if item.seq not in self._recorded:
            self._recorded.add(item.seq)
            self.observe("transaction_message_queued", self.outbox.resolved(item).record())  # type: ignore[attr-defined]

    def _given_up(self, item: QueuedMessage, why: str) -> None:
        log.warning("%s: gave up %s #%d: %s", self.spec.identity, item.action, item.seq, why)  # type: ignore[attr-defined]
        self._answer(item.seq, None)
        if item.seq in self._recorded:
            self._recorded.discard(item.seq)
            self.observe("transaction_message_dropped", item.seq, why)  # type: ignore[attr-defined]

    def late_answer(self, item: QueuedMessage, answer: Any) -> None:
        """The answer to a message no sender waits for any more (it was queued): the version acts on it."""
