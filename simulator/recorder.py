"""Writes what the simulator observes (frames and runtime events) in batches, never blocking the wire."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import IntegrityError

from application.observations import collect_observed
from application.waiting import wait_event
from domain.frames import FrameRecorded
from domain.runtime import ChargerRuntime

if TYPE_CHECKING:
    from application.gateway import Gateway

log = logging.getLogger("ocpplab.simulator.recorder")
FLUSH_INTERVAL = 0.1  # at most this much is lost on a hard crash
MAX_BATCH = 5000
SNAPSHOT_EVERY = 200


class ObservationRecorder:
    """One writer for the whole fleet: each flush saves everything buffered, in order, in one transaction."""

    def __init__(self, gateway: Gateway, flush_interval: float = FLUSH_INTERVAL) -> None:
        self.gateway = gateway
        self.flush_interval = flush_interval
        self._buffer: list[Any] = []
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self.recorded = 0
        self.dropped = 0
        self.failed_flushes = 0

    def add_frame(self, frame: FrameRecorded) -> None:
        self._buffer.append(frame)

    def observe(self, runtime: ChargerRuntime) -> None:
        """Queues the runtime aggregate's new events for the next flush."""
        self._buffer.extend(collect_observed(runtime))

    def record(self, aggregate: Any) -> None:
        """Queues any tenant aggregate's new events (a command's lifecycle) for the next flush."""
        self._buffer.extend(collect_observed(aggregate))

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def start(self) -> None:
        self._closing = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="observation-recorder")

    async def _run(self) -> None:
        while not self._closing.is_set():
            await wait_event(self._closing, self.flush_interval)
            try:
                await self.flush()
            except Exception:
                self.failed_flushes += 1
                log.warning("could not record observations; retrying", exc_info=True)

    async def flush(self) -> None:
        async with self._lock:
            while self._buffer:
                batch, self._buffer = self._buffer[:MAX_BATCH], self._buffer[MAX_BATCH:]
                try:
                    recordings = await self._save(batch)
                except IntegrityError:
                    await asyncio.to_thread(self._save_per_stream, batch)
                except asyncio.CancelledError:
                    raise  # the batch was saved in its thread (see _save): never queue it again
                except BaseException:
                    self._buffer[:0] = batch  # retried first at the next flush: nothing is dropped
                    raise
                else:
                    if recordings:
                        self.gateway.notify_saved(recordings[-1].notification.id)
                    await self._snapshot_runtimes(batch)
                self.recorded += len(batch)

    async def _save(self, batch: list[Any]) -> Any:
        """Saves in a worker thread; if this task is cancelled meanwhile, the save still finishes before the
        cancellation goes on, so a batch is never both saved and kept for another try."""
        saving = asyncio.ensure_future(asyncio.to_thread(self.gateway.save, *batch))
        try:
            return await asyncio.shield(saving)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await saving
            raise

    async def _snapshot_runtimes(self, batch: list[Any]) -> None:
        """Runtime streams grow with every reconnect: snapshot them like the API's aggregates."""
        for event in batch:
            if isinstance(event, ChargerRuntime.Event) and event.originator_version % SNAPSHOT_EVERY == 0:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.gateway.take_snapshot, event.originator_id, event.originator_version)

    def _save_per_stream(self, batch: list[Any]) -> None:
        """A version clash: save each stream's events the store does not have yet. Events whose versions another
        writer took are dropped (and counted): they must not hold back every other charger."""
        streams: dict[Any, list[Any]] = {}
        for event in batch:
            streams.setdefault(event.originator_id, []).append(event)
        for originator, events in streams.items():
            newest = list(self.gateway.events.get(originator, desc=True, limit=1))
            stored = newest[0].originator_version if newest else 0
            fresh = [e for e in events if e.originator_version > stored]  # the others were saved already
            if not fresh:
                continue
            try:
                self.gateway.save(*fresh)
            except IntegrityError:
                self.dropped += len(fresh)
                log.error(
                    "dropped %d event(s) of stream %s: another writer holds those versions", len(fresh), originator
                )

    async def close(self) -> None:
        """Lets the current flush finish, then writes everything still buffered."""
        if self._task is not None:
            self._closing.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
