"""The queue of transaction-related messages: order, attempts, 1.6 numbering of transactions begun offline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.chargepoint.transaction_queue import QueuedMessage, TransactionQueue

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def start(ref: str = "local-1") -> tuple[str, dict, str]:
    return "StartTransaction", {"connector_id": 1, "id_tag": "TAG", "meter_start": 0, "timestamp": "t"}, ref


def test_messages_leave_in_the_order_they_happened():
    queue = TransactionQueue()
    first, _ = queue.push("MeterValues", {"connector_id": 1, "transaction_id": 7}, T0)
    second, _ = queue.push("StopTransaction", {"transaction_id": 7, "meter_stop": 10}, T0 + timedelta(seconds=1))
    assert queue.head() == first
    queue.delivered(first.seq)
    assert queue.head() == second
    queue.delivered(second.seq)
    assert queue.head() is None and len(queue) == 0


def test_only_transaction_related_messages_are_queued():
    with pytest.raises(ValueError):
        TransactionQueue().push("StatusNotification", {}, T0)


def test_a_transaction_begun_offline_takes_the_csms_number_in_every_message_behind_its_start():
    queue = TransactionQueue()
    action, payload, ref = start()
    started, _ = queue.push(action, payload, T0, ref)
    sample, _ = queue.push("MeterValues", {"connector_id": 1, "transaction_id": 0}, T0, ref)
    stop, _ = queue.push("StopTransaction", {"transaction_id": 0, "meter_stop": 5}, T0, ref)
    assert queue.outgoing(started) == payload  # the start carries no number
    assert queue.outgoing(sample) is None  # not numbered yet: it cannot go out before its start
    queue.delivered(started.seq, transaction_id=42)
    assert queue.outgoing(sample) == {"connector_id": 1, "transaction_id": 42}
    queue.delivered(sample.seq)
    assert queue.outgoing(stop) == {"transaction_id": 42, "meter_stop": 5}
    queue.delivered(stop.seq)
    assert queue.numbers == {}  # forgotten once no queued message refers to it


def test_a_number_nothing_waits_for_is_not_kept():
    queue = TransactionQueue()
    action, payload, ref = start()
    started, _ = queue.push(action, payload, T0, ref)
    queue.delivered(started.seq, transaction_id=42)
    assert queue.numbers == {}


def test_a_failed_attempt_waits_interval_times_attempts_then_the_message_is_dropped():
    queue = TransactionQueue()
    message, _ = queue.push("StopTransaction", {"transaction_id": 7, "meter_stop": 10}, T0)
    assert queue.due_at() == T0
    again = queue.attempt_failed(message.seq, T0, max_attempts=3, interval_s=60)
    assert again is not None and again.attempts == 1
    assert queue.due_at() == T0 + timedelta(seconds=60)
    again = queue.attempt_failed(message.seq, T0 + timedelta(seconds=60), max_attempts=3, interval_s=60)
    assert again is not None and queue.due_at() == T0 + timedelta(seconds=180)
    assert queue.attempt_failed(message.seq, T0 + timedelta(seconds=180), max_attempts=3, interval_s=60) is None
    assert len(queue) == 0


def test_a_start_that_was_dropped_leaves_its_later_messages_unsendable():
    queue = TransactionQueue()
    action, payload, ref = start()
    started, _ = queue.push(action, payload, T0, ref)
    stop, _ = queue.push("StopTransaction", {"transaction_id": 0, "meter_stop": 5}, T0, ref)
    assert queue.attempt_failed(started.seq, T0, max_attempts=1, interval_s=0) is None
    assert queue.outgoing(stop) is None


def test_a_full_queue_without_a_sample_to_shed_holds_more_and_drops_nothing():
    queue = TransactionQueue(capacity=1)
    action, payload, ref = start()
    queue.push(action, payload, T0, ref)
    _, shed = queue.push("StopTransaction", {"transaction_id": 0, "meter_stop": 5}, T0, ref)
    assert shed is None and len(queue) == 2


def test_a_message_kept_without_the_numbers_carries_its_transaction_number():
    queue = TransactionQueue()
    action, payload, ref = start()
    started, _ = queue.push(action, payload, T0, ref)
    stop, _ = queue.push("StopTransaction", {"transaction_id": 0, "meter_stop": 5}, T0, ref)
    assert queue.resolved(stop) == stop  # not numbered yet: it keeps its reference
    queue.delivered(started.seq, transaction_id=42)
    kept = queue.resolved(stop)
    assert (kept.payload["transaction_id"], kept.transaction_ref) == (42, None)
    assert queue.resolved(started) == started


def test_a_full_queue_sheds_its_oldest_periodic_sample_never_a_start_or_a_stop():
    queue = TransactionQueue(capacity=3)
    action, payload, ref = start()
    queue.push(action, payload, T0, ref)
    sample, _ = queue.push("MeterValues", {"connector_id": 1, "transaction_id": 0}, T0, ref)
    queue.push("StopTransaction", {"transaction_id": 0, "meter_stop": 5}, T0, ref)
    newest, shed = queue.push("StartTransaction", payload, T0, "local-2")
    assert shed == sample
    assert [m.action for m in queue.messages] == ["StartTransaction", "StopTransaction", "StartTransaction"]
    assert newest.seq > sample.seq


def test_the_queue_is_rebuilt_from_its_records_in_order_with_fresh_sequence_numbers():
    queue = TransactionQueue()
    for n in range(3):
        queue.push("MeterValues", {"connector_id": 1, "transaction_id": n}, T0)
    records = [m.record() for m in reversed(queue.messages)]
    rebuilt = TransactionQueue.recorded(records, {"local-9": 9})
    assert rebuilt.messages == queue.messages
    assert rebuilt.numbers == {"local-9": 9}
    added, _ = rebuilt.push("MeterValues", {"connector_id": 1}, T0)
    assert added.seq == queue.messages[-1].seq + 1
    assert QueuedMessage.from_record(added.record()) == added


def test_withdrawing_takes_a_message_back():
    queue = TransactionQueue()
    action, payload, ref = start()
    started, _ = queue.push(action, payload, T0, ref)
    assert queue.withdraw(started.seq) == started
    assert len(queue) == 0
