"""The gateway as the simulator benchmarks drive it: a `serve` process on a data dir, and its REST API."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.procs import Child, child, wait_for
from tests.support import SECRET, free_port, token

HOST = "127.0.0.1"
BATCH = 200  # chargers per POST /locations/{id}/chargers/create-chargers
REQUEST_TIMEOUT = 120.0  # a bulk create of BATCH chargers, each waiting for its view row
PAGE = 100
START_TIMEOUT = 60.0


def gateway_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCPPLAB_")}
    env.update(OCPPLAB_DATA_DIR=str(data_dir), OCPPLAB_JWT_SECRET=SECRET, OCPPLAB_LOG_LEVEL="WARNING")
    return env


DROPPED = re.compile(r"dropped (\d+) event\(s\) of stream")


@dataclass
class GatewayLog:
    """What the gateway processes of one data dir logged that matters here."""

    dropped_events: int = 0  # the recorder's "dropped N event(s)" errors, summed
    dropped_streams: int = 0

    def read(self, text: str) -> None:
        counts = [int(found) for found in DROPPED.findall(text)]
        self.dropped_events += sum(counts)
        self.dropped_streams += len(counts)


@contextmanager
def gateway(data_dir: Path, command: str = "serve", log: GatewayLog | None = None) -> Iterator[tuple[Child, str]]:
    """`ocpplab-gateway serve` (API + simulator in one process) or `api` (no simulator); yields the process and its
    base URL once /health answers 200. `log` collects what its stderr reported once it stopped."""
    port = free_port()
    argv = [sys.executable, "-m", "adapters.cli", command, "--host", HOST, "--port", str(port)]
    base_url = f"http://{HOST}:{port}"
    on_exit = log.read if log is not None else None
    with child(f"gateway {command}", argv, gateway_env(data_dir), on_exit=on_exit) as process:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base_url}/health", timeout=0.5, trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, START_TIMEOUT, "the gateway's /health", interval=0.05, watch=[process])
        yield process, base_url


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        request = response.request
        raise RuntimeError(f"{request.method} {request.url}: {response.status_code} {response.text[:300]}")
    return response.json()


class GatewayApi:
    """The few routes the benchmarks need, with a bench tenant's token."""

    def __init__(self, base_url: str) -> None:
        headers = {"Authorization": f"Bearer {token('bench')}"}
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT, trust_env=False)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> GatewayApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def create_location(self, name: str) -> str:
        body = {
            "name": name,
            "address": "1 Main Street",
            "city": "Paris",
            "country": "FR",
            "coordinates": {"latitude": 48.8566, "longitude": 2.3522},
        }
        return expect(self.client.post("/locations", json=body), 201)["id"]

    def create_chargers(
        self, location_id: str, identities: list[str], ws_url: str, fields: dict[str, Any] | None = None
    ) -> float:
        """Creates the chargers in bulk batches (every one must be created), each with the extra `fields` (say a
        security profile); returns the seconds it took."""
        started = time.perf_counter()
        for first in range(0, len(identities), BATCH):
            items = [
                {
                    "identity": identity,
                    "brand_slug": "wallbox",
                    "model_slug": "wallbox-pulsar-plus",
                    "connector_type": "Type2",
                    "ws_url": ws_url,
                    **(fields or {}),
                }
                for identity in identities[first : first + BATCH]
            ]
            path = f"/locations/{location_id}/chargers/create-chargers"
            answer = expect(self.client.post(path, json={"chargers": items}), 200)
            if answer["failed_count"]:
                raise RuntimeError(f"create-chargers failed for some items: {answer['failed'][:3]}")
        return time.perf_counter() - started

    def runtime_statuses(self) -> dict[str, int]:
        """How many chargers show each runtime_status (GET /chargers, every page)."""
        return self.tally("runtime_status")

    def tally(self, name: str) -> dict[str, int]:
        """How many chargers show each value of the field `name` (GET /chargers, every page; "unknown": none)."""
        counts: dict[str, int] = {}
        page, total = 1, None
        while total is None or (page - 1) * PAGE < total:
            answer = expect(self.client.get("/chargers", params={"limit": PAGE, "page": page}), 200)
            total = answer["total"]
            for charger in answer["data"]:
                value = str(charger.get(name) or "unknown")
                counts[value] = counts.get(value, 0) + 1
            if not answer["data"]:
                break
            page += 1
        return counts

    def start_sessions(self, location_id: str, id_tag: str, charger_ids: list[str] | None = None) -> int:
        """POST /locations/{id}/chargers/start-session on those chargers (ids or identities; None: every one of the
        location); returns how many were queued."""
        path = f"/locations/{location_id}/chargers/start-session"
        answer = expect(self.client.post(path, json={"id_tag": id_tag, "charger_ids": charger_ids}), 200)
        if answer["failed_count"]:
            raise RuntimeError(f"start-session failed for some chargers: {answer['failed'][:3]}")
        return int(answer["queued_count"])

    def charging_profiles(self, charger: str) -> dict[str, Any]:
        """GET /chargers/{id or identity}/charging-profiles: the profiles held and each connector's limit now."""
        return expect(self.client.get(f"/chargers/{charger}/charging-profiles"), 200)

    def stop_location(self, location_id: str) -> int:
        """POST /locations/{id}/chargers/stop-chargers; returns how many commands were queued."""
        answer = expect(self.client.post(f"/locations/{location_id}/chargers/stop-chargers", json={}), 200)
        return int(answer["queued_count"])


def stored_frames(data_dir: Path) -> int:
    """FrameRecorded events in the data dir's event store (read once every gateway process has stopped)."""
    connection = sqlite3.connect(f"file:{data_dir / 'events.sqlite'}?mode=ro", uri=True)
    try:
        query = "SELECT COUNT(*) FROM stored_events WHERE topic = 'domain.frames:FrameRecorded'"
        return int(connection.execute(query).fetchone()[0])
    finally:
        connection.close()
