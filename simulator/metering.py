"""Transactions on the meter: begin and end, periodic samples at the configured interval, the register recorded for
restarts.

A mixin of the Station (simulator/station.py): it uses the station's state and the version's hooks."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from application.waiting import wait_event
from simulator.model import CommandRefused, Connector

log = logging.getLogger("ocpplab.simulator")


class Metering:
    """Transactions on the meter."""

    def begin_transaction(self, connector: Connector, transaction_id: str, id_tag: str | None, drawing: bool) -> None:
        connector.transaction_id, connector.id_tag = transaction_id, id_tag
        connector.extra["started_at"] = started = datetime.now(UTC)
        if drawing:
            connector.meter.start(time.monotonic())
        else:
            connector.meter.advance(time.monotonic())
        self.observe(
            "transaction_started",
            connector.evse_id,
            connector.connector_id,
            transaction_id,
            id_tag,
            connector.meter.register_wh,
            connector.plugged,
            started.isoformat(),
        )
        self.apply_limits()
        self.start_metering(connector)

    def end_transaction(self, connector: Connector, transaction_id: str, reason: str) -> int:
        """Stops the meter and records the end; returns meterStop (Wh)."""
        connector.meter.stop(time.monotonic())
        connector.transaction_id = None
        connector.extra.pop("started_at", None)
        self.profiles_ended_with(connector)
        task = connector.extra.pop("metering", None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        meter_stop = connector.meter.register_wh
        self.observe("transaction_ended", connector.evse_id, connector.connector_id, transaction_id, meter_stop, reason)
        return meter_stop

    def start_metering(self, connector: Connector) -> None:
        previous = connector.extra.get("metering")
        if previous is not None and not previous.done():
            return
        task = asyncio.create_task(self._meter_loop(connector))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        connector.extra["metering"] = task

    def resample(self) -> None:
        """The sample interval changed: every metering loop starts a new interval from now."""
        for connector in self.connectors.values():
            event = connector.extra.get("resample")
            if event is not None:
                event.set()

    async def _meter_loop(self, connector: Connector) -> None:
        """Samples the meter every configured interval while the transaction runs."""
        transaction = connector.transaction_id
        resample = connector.extra.setdefault("resample", asyncio.Event())
        while connector.transaction_id == transaction and transaction is not None:
            interval = self.sample_interval()
            resample.clear()
            if await wait_event(resample, interval if interval > 0 else 3600):
                continue  # a new interval applies from now
            if interval <= 0 or connector.transaction_id != transaction:
                continue
            self.apply_limits()  # the sample shows the limit in force now
            try:
                await self.send_meter_sample(connector)
            except (TimeoutError, CommandRefused) as error:  # sampling goes on: the next sample may be answered
                log.info("%s: a meter sample was not answered: %s", self.spec.identity, error)
            self.record_meter(connector)

    def record_meter(self, connector: Connector) -> None:
        """Records the register (and the next 2.0.1 seqNo) so a restarted gateway continues from it."""
        self.observe(
            "meter_read",
            connector.evse_id,
            connector.connector_id,
            connector.meter_wh,
            connector.extra.get("seq_no", 0),
        )
