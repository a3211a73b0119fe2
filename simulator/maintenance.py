"""Firmware updates and diagnostics / log uploads, as both OCPP versions carry them out (mixed in before Station).

UpdateFirmware downloads the file (after its retrieve date), installs it, reboots and boots with the new version;
GetDiagnostics (1.6) and GetLog (2.0.1) upload a text file of the charger's recorded frames and a state summary.
The version modules only parse the CSMS's request and word the answer; the transfers are in `simulator.transfers`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from domain.instants import instant_or_none
from simulator import transfers
from simulator.transfers import TransferFailed

if TYPE_CHECKING:
    from domain.runtime import ChargerRuntime
    from simulator.station import ChargerSpec, Connector

log = logging.getLogger("ocpplab.simulator.maintenance")
FRAMES_IN_FILE = 2000  # the newest recorded frames a diagnostics file draws from (then its time window applies)
IDLE_CHECK = 1.0  # seconds between checks whether the transactions ended (an install waits for them)
FIRMWARE_DONE = ("Installed", "InstallRebooting", "DownloadFailed", "InvalidSignature", "InstallationFailed")
LOG_DONE = ("Uploaded", "UploadFailed", "UploadFailure")


class Maintenance:
    """What a charge point does with files, with Station's state and messaging."""

    spec: ChargerSpec
    runtime: ChargerRuntime
    recorder: Any
    connectors: dict[tuple[int, int], Connector]
    if TYPE_CHECKING:

        def observe(self, observation: str, *details: Any) -> None: ...
        def after(self, coroutine: Any) -> None: ...
        def request_close(self, reason: str) -> None: ...
        def security_event(self, kind: str, info: str, *, now: bool = True) -> None: ...
        async def call(self, message: Any) -> Any: ...
        async def notify(self, message: Any) -> Any: ...

    def firmware_version(self) -> str:
        """The installed firmware: what the CSMS last installed, else the catalog model's."""
        installed = self.runtime.firmware.get("version")
        return str(installed or self.spec.model.get("firmware_version", "1.0.0"))[:50]

    @property
    def _ocpp201(self) -> bool:
        return self.spec.ocpp_version != "OCPP1.6"

    def _exclusive(self, slot: str, work: Coroutine[Any, Any, None]) -> bool:
        """Runs `work` after the answer, cancelling the one of the same slot under way; True when it did."""
        running: dict[str, asyncio.Task] = self.__dict__.setdefault("_transfers", {})
        previous = running.get(slot)
        replaced = previous is not None and not previous.done()
        if previous is not None and replaced:
            previous.cancel()

        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                running[slot] = task
            await work

        self.after(run())
        return replaced

    def _transfer_state(self, slot: str) -> tuple[str, int | None] | None:
        return self.__dict__.setdefault("_transfer_states", {}).get(slot)

    def _set_transfer_state(self, slot: str, status: str, request_id: int | None, done: tuple[str, ...]) -> None:
        self.__dict__.setdefault("_transfer_states", {})[slot] = None if status in done else (status, request_id)

    # -- firmware -----------------------------------------------------------------------------------------

    def start_firmware_update(
        self,
        location: str,
        retrieve: str | None,
        retries: int | None,
        interval: int | None,
        request_id: int | None = None,
        signature: str | None = None,
        certificate: str | None = None,
        install: str | None = None,
    ) -> bool:
        """Starts an update once the answer went out; True when it cancelled one under way."""
        update = (location, retrieve, retries, interval, request_id, signature, certificate, install)
        steps = self._update_firmware(*update)
        return self._exclusive("firmware", steps)

    async def _update_firmware(
        self,
        location: str,
        retrieve: str | None,
        retries: int | None,
        interval: int | None,
        request_id: int | None,
        signature: str | None,
        certificate: str | None,
        install: str | None,
    ) -> None:
        await self._wait_for(retrieve, "DownloadScheduled", request_id)
        await self.firmware_status("Downloading", request_id)
        try:
            fetched = await transfers.download(location, retries, interval)
        except TransferFailed as failure:
            log.info("%s: %s", self.spec.identity, failure)
            await self.firmware_status("DownloadFailed", request_id)
            return
        await self.firmware_status("Downloaded", request_id)
        if signature is not None:
            signer = transfers.load_certificate(certificate) if certificate else None
            if not transfers.signature_valid(fetched, signature, signer):
                self.security_event("InvalidFirmwareSignature", f"the signature of {location} does not verify")
                await self.firmware_status("InvalidSignature", request_id)
                return
            await self.firmware_status("SignatureVerified", request_id)
        await self._wait_for(install, "InstallScheduled", request_id)
        while any(c.transaction_id for c in self.connectors.values()):
            await asyncio.sleep(IDLE_CHECK)  # a charger installs once its transactions ended
        await self.firmware_status("Installing", request_id)
        version = transfers.firmware_version(location, fetched)
        self.observe("firmware_installed", version, location, request_id, self._ocpp201)
        self.security_event("FirmwareUpdated", f"firmware {version} installed from {location}", now=False)
        log.info("%s: installed firmware %s from %s; rebooting", self.spec.identity, version, location)
        await self.firmware_status("InstallRebooting" if self._ocpp201 else "Installed", request_id)
        self.request_close("reset")

    async def _wait_for(self, when: str | None, status: str, request_id: int | None) -> None:
        """Waits until `when` (a retrieve or install date in the future); 2.0.1 says so first."""
        at = instant_or_none(when)
        delay = (at - datetime.now(UTC)).total_seconds() if at else 0.0
        if delay > 0:
            if self._ocpp201:
                await self.firmware_status(status, request_id)
            await asyncio.sleep(delay)

    async def boot(self) -> None:
        """Boots (Station.boot); a 2.0.1 station rebooted by an update then reports it Installed."""
        await super().boot()  # type: ignore[misc]
        firmware = self.runtime.firmware
        if firmware.get("report_after_boot"):
            await self.firmware_status("Installed", firmware.get("request_id"))
            self.observe("firmware_reported")

    async def firmware_status(self, status: str, request_id: int | None) -> None:
        self._set_transfer_state("firmware", status, request_id, FIRMWARE_DONE)
        if self._ocpp201:
            message: Any = call201.FirmwareStatusNotification(status=status, request_id=request_id)
        else:
            message = call16.FirmwareStatusNotification(status=status)
        await self.notify(message)

    async def report_firmware_state(self) -> None:
        """TriggerMessage FirmwareStatusNotification: the update under way, else Idle."""
        status, request_id = self._transfer_state("firmware") or ("Idle", None)
        await self.firmware_status(status, request_id)

    # -- diagnostics and logs -----------------------------------------------------------------------------

    def start_log_upload(
        self,
        location: str,
        filename: str,
        since: str | None,
        until: str | None,
        retries: int | None,
        interval: int | None,
        request_id: int | None = None,
    ) -> bool:
        """Uploads the diagnostics file once the answer went out; True when it cancelled one under way."""
        upload = self._upload_log(
            location, filename, instant_or_none(since), instant_or_none(until), retries, interval, request_id
        )
        return self._exclusive("log", upload)

    async def _upload_log(
        self,
        location: str,
        filename: str,
        since: datetime | None,
        until: datetime | None,
        retries: int | None,
        interval: int | None,
        request_id: int | None,
    ) -> None:
        await self.log_status("Uploading", request_id)
        body = await self.diagnostics_file(since, until)
        try:
            target = await transfers.upload(location, filename, body, retries, interval)
        except TransferFailed as failure:
            log.info("%s: %s", self.spec.identity, failure)
            await self.log_status("UploadFailure" if self._ocpp201 else "UploadFailed", request_id)
            return
        log.info("%s: uploaded %s (%d bytes) to %s", self.spec.identity, filename, len(body), target)
        await self.log_status("Uploaded", request_id)

    async def log_status(self, status: str, request_id: int | None) -> None:
        self._set_transfer_state("log", status, request_id, LOG_DONE)
        if self._ocpp201:
            message: Any = call201.LogStatusNotification(status=status, request_id=request_id)
        else:
            message = call16.DiagnosticsStatusNotification(status=status)
        await self.notify(message)

    async def report_log_state(self) -> None:
        """TriggerMessage DiagnosticsStatusNotification / LogStatusNotification: the upload under way, else Idle."""
        status, request_id = self._transfer_state("log") or ("Idle", None)
        await self.log_status(status, request_id)

    async def diagnostics_file(self, since: datetime | None, until: datetime | None) -> bytes:
        """A state summary, then the recorded frames of the time window, one a line: time, direction, raw."""
        spec = self.spec
        lines = [
            f"# diagnostics of {spec.identity} ({spec.model.get('brand_name', '')} {spec.model.get('model_name', '')})",
            f"# generated {datetime.now(UTC).isoformat(timespec='seconds')}; {spec.ocpp_version}; "
            f"firmware {self.firmware_version()}",
            f"# window {since.isoformat() if since else '-'} .. {until.isoformat() if until else '-'}",
        ]
        for connector in self.connectors.values():
            lines.append(
                f"# connector {connector.key}: {connector.status} ({connector.error_code}); "
                f"transaction {connector.transaction_id or '-'}; meter {connector.meter_wh} Wh"
            )
        for frame in await self._recorded_frames():
            if (since is None or frame.timestamp >= since) and (until is None or frame.timestamp <= until):
                arrow = ">>" if frame.direction == "cp_to_csms" else "<<"
                lines.append(f"{frame.timestamp.isoformat(timespec='milliseconds')} {arrow} {frame.raw}")
        return ("\n".join(lines) + "\n").encode()

    async def _recorded_frames(self) -> list[Any]:
        """The charger's newest recorded frames (flushed first, so they include the request itself)."""
        recorder = self.recorder
        gateway = getattr(recorder, "gateway", None)
        if gateway is None:
            return []
        try:
            await recorder.flush()
            return await asyncio.to_thread(gateway.recent_frames, self.spec.charger_id, FRAMES_IN_FILE)
        except Exception:
            log.warning("%s: could not read the frame log", self.spec.identity, exc_info=True)
            return []
