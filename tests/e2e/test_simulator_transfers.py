"""Firmware and diagnostics transfers, both OCPP versions, against the validating CSMS and loopback file servers:
a firmware update fetches the file, installs, reboots and boots with the new version (kept across a gateway
restart); diagnostics / logs are uploaded as a file of the charger's recorded frames over HTTP and FTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import (
    AC,
    RECONNECT,
    Api,
    Charger,
    CsmsFactory,
    Deployment,
    DeploymentFactory,
    boot,
    charger_answer_to_last,
    csms_calls_after,
)
from tests.file_servers import dead_url, ftp_server, http_server

IMAGE = b"\x7fELF simulated firmware image\n" * 64


def at(seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is16(charger: Charger) -> bool:
    return charger.version == "OCPP1.6"


async def update_firmware(csms: CsmsServer, charger: Charger, location: str, retrieve: str, **retry: int) -> Any:
    """UpdateFirmware in the charger's version (request id 21 for 2.0.1); the charger's answer."""
    if is16(charger):
        request: Any = call16.UpdateFirmware(location=location, retrieve_date=retrieve, **retry)
    else:
        firmware = {"location": location, "retrieve_date_time": retrieve}
        request = call201.UpdateFirmware(request_id=21, firmware=firmware, **retry)
    return await csms.call(charger.identity, request)


async def firmware_statuses(csms: CsmsServer, charger: Charger, count: int) -> list[str]:
    marker = charger_answer_to_last(csms, charger.identity, "UpdateFirmware")
    notifications = await csms_calls_after(csms, charger.identity, marker, "FirmwareStatusNotification", count=count)
    if not is16(charger):
        assert {n["requestId"] for n in notifications} == {21}
    return [n["status"] for n in notifications]


async def upload_log(csms: CsmsServer, charger: Charger, location: str, **fields: Any) -> tuple[str, list[str]]:
    """GetDiagnostics / GetLog (request id 31); the file name it answers and the upload statuses that follow."""
    if is16(charger):
        answer = await csms.call(charger.identity, call16.GetDiagnostics(location=location, **fields))
        name, action = answer.file_name, "GetDiagnostics"
        notification = "DiagnosticsStatusNotification"
    else:
        window = {k: fields.pop(k) for k in ("oldest_timestamp", "latest_timestamp") if k in fields}
        log = {"remote_location": location, **window}
        request = call201.GetLog(log=log, log_type="DiagnosticsLog", request_id=31, **fields)
        answer = await csms.call(charger.identity, request)
        assert answer.status == "Accepted"
        name, action, notification = answer.filename, "GetLog", "LogStatusNotification"
    marker = charger_answer_to_last(csms, charger.identity, action)
    notifications = await csms_calls_after(csms, charger.identity, marker, notification, count=2)
    if not is16(charger):
        assert {n["requestId"] for n in notifications} == {31}
    return name, [n["status"] for n in notifications]


def reported_version(boot_notification: dict[str, Any]) -> str:
    return boot_notification.get("firmwareVersion") or boot_notification["chargingStation"]["firmwareVersion"]


async def test_a_firmware_update_fetches_the_file_reboots_and_boots_with_the_new_version_even_after_a_restart(
    csms_factory: CsmsFactory, deployments: DeploymentFactory, api_for: Callable[[Deployment], Api], version: str
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    gateway = await deployments()
    api = api_for(gateway)
    charger = await boot(api, csms, version, AC)
    with http_server({"/firmware/pulsar-6.2.0.bin": IMAGE}) as server:
        answer = await update_firmware(csms, charger, server.url("/firmware/pulsar-6.2.0.bin"), at(), retries=0)
        if not is16(charger):
            assert answer.status == "Accepted"
        expected = (
            ["Downloading", "Downloaded", "Installing", "Installed"]
            if is16(charger)
            else ["Downloading", "Downloaded", "Installing", "InstallRebooting", "Installed"]
        )
        assert await firmware_statuses(csms, charger, len(expected)) == expected
    assert [r.path for r in server.received("GET")] == ["/firmware/pulsar-6.2.0.bin"]
    await csms.wait_connected(charger.identity, count=2, timeout=RECONNECT)
    boots = await csms.wait_for(charger.identity, "BootNotification", count=2)
    assert reported_version(boots[1]) == "pulsar-6.2.0"

    await asyncio.sleep(0.5)  # the recorder flushes every 0.1 s: the installed firmware is on disk
    codes = await asyncio.to_thread(gateway.stop)
    assert codes == [0] * len(codes), gateway.logs()
    await asyncio.to_thread(gateway.start)
    boots = await csms.wait_for(charger.identity, "BootNotification", count=3)
    assert reported_version(boots[2]) == "pulsar-6.2.0"
    assert len(csms.received(charger.identity, "FirmwareStatusNotification")) == len(expected)  # reported once


async def test_a_retrieve_date_in_the_future_is_waited_for(api: Api, csms: CsmsServer, version: str) -> None:
    charger = await boot(api, csms, version, AC)
    with http_server({"/fw/later-1.1.bin": IMAGE}) as server:
        retrieve = time.time() + 2
        await update_firmware(csms, charger, server.url("/fw/later-1.1.bin"), at(2), retries=0)
        if not is16(charger):
            assert (await firmware_statuses(csms, charger, 1)) == ["DownloadScheduled"]
        await csms.wait_for(charger.identity, "FirmwareStatusNotification", count=3 if is16(charger) else 4)
        assert server.received("GET")
        assert all(request_time >= retrieve - 0.1 for request_time in server.times)


async def test_an_unreachable_firmware_location_reports_download_failed(
    api: Api, csms: CsmsServer, version: str
) -> None:
    charger = await boot(api, csms, version, AC)
    await update_firmware(csms, charger, dead_url("/fw/none.bin"), at(), retries=0)
    assert await firmware_statuses(csms, charger, 2) == ["Downloading", "DownloadFailed"]


async def test_an_http_error_is_retried_then_reports_download_failed(api: Api, csms: CsmsServer, version: str) -> None:
    charger = await boot(api, csms, version, AC)
    with http_server() as server:
        await update_firmware(csms, charger, server.url("/fw/missing.bin"), at(), retries=1, retry_interval=1)
        assert await firmware_statuses(csms, charger, 2) == ["Downloading", "DownloadFailed"]
    assert len(server.received("GET")) == 2  # one attempt and one retry, a second apart
    assert server.times[1] - server.times[0] >= 0.9
    assert csms.connection_count(charger.identity) == 1  # nothing installed: no reboot


async def test_diagnostics_are_uploaded_over_http_with_the_chargers_frames(
    api: Api, csms: CsmsServer, version: str
) -> None:
    charger = await boot(api, csms, version, AC)
    with http_server(refuse_put=True) as server:  # PUT refused with 405: the charger POSTs
        name, statuses = await upload_log(csms, charger, server.url("/upload/"), retries=0)
    assert statuses == ["Uploading", "Uploaded"]
    assert [(r.method, r.path) for r in server.requests] == [("PUT", f"/upload/{name}"), ("POST", f"/upload/{name}")]
    body = server.requests[-1].body.decode()
    assert f"# diagnostics of {charger.identity}" in body
    assert '"BootNotification"' in body and charger.identity in body


async def test_the_time_window_selects_the_frames(api: Api, csms: CsmsServer, version: str) -> None:
    charger = await boot(api, csms, version, AC)
    window = (
        {"start_time": at(3600)} if is16(charger) else {"oldest_timestamp": at(3600)}
    )  # from an hour ahead: no frame yet
    with http_server() as server:
        _, statuses = await upload_log(csms, charger, server.url("/upload/"), retries=0, **window)
    assert statuses == ["Uploading", "Uploaded"]
    [upload] = server.received("PUT")
    assert b"# diagnostics of" in upload.body
    assert b'"BootNotification"' not in upload.body


async def test_diagnostics_are_uploaded_over_ftp(api: Api, csms: CsmsServer, version: str) -> None:
    charger = await boot(api, csms, version, AC)
    with ftp_server() as server:
        name, statuses = await upload_log(csms, charger, server.url("/incoming/", "ftp"), retries=0)
    assert statuses == ["Uploading", "Uploaded"]
    assert list(server.files) == [f"/incoming/{name}"]
    assert b'"BootNotification"' in server.files[f"/incoming/{name}"]


async def test_an_upload_to_a_dead_location_fails(api: Api, csms: CsmsServer, version: str) -> None:
    charger = await boot(api, csms, version, AC)
    _, statuses = await upload_log(csms, charger, dead_url("/upload/"), retries=0)
    assert statuses == ["Uploading", "UploadFailed" if is16(charger) else "UploadFailure"]
