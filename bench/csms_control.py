"""Starts the lean CSMS (bench/lean_csms.py) in its own process and reads its counters over plain HTTP."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from bench.procs import Child, child, wait_for
from tests.support import free_port

HOST = "127.0.0.1"
EMPTY: dict[str, Any] = {
    "connections": 0,
    "open": 0,
    "boots": 0,
    "heartbeats": 0,
    "statuses": 0,
    "results": 0,
    "transactions": 0,
    "meter_values": 0,
    "powers": {},
    "answers": {},
    "last_boot_at": 0.0,
    "booted": 0,
    "heartbeated": 0,
    "frames": 0,
}


class Csms:
    def __init__(self, process: Child, port: int) -> None:
        self.process = process
        self.port = port
        self.http = httpx.Client(base_url=f"http://{HOST}:{port}", timeout=15, trust_env=False)

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/ocpp"

    def _get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def stats(self, group: str) -> dict[str, Any]:
        return {**EMPTY, **self._get("/_stats").get(group, {})}

    def set_interval(self, seconds: int) -> None:
        self._get("/_interval", seconds=seconds)

    def push_interval(self, group: str, seconds: int) -> int:
        """ChangeConfiguration HeartbeatInterval to every open connection of the group; returns how many got it."""
        return int(self._get("/_push", group=group, seconds=seconds)["sent"])

    def push_call(self, group: str, action: str, payload: dict[str, Any]) -> int:
        """The CALL to every open connection of the group; returns how many got it (answers: stats' `answers`)."""
        return int(self._get("/_call", group=group, action=action, payload=json.dumps(payload))["sent"])

    def wait(self, group: str, key: str, at_least: int, timeout: float, watch: list[Child]) -> dict[str, Any]:
        """Waits until the group's counter `key` reaches `at_least`; returns the stats then."""

        def reached() -> dict[str, Any] | None:
            stats = self.stats(group)
            return stats if stats[key] >= at_least else None

        return wait_for(reached, timeout, f"{at_least} {key} of {group} at the CSMS", watch=[self.process, *watch])


@contextmanager
def lean_csms(
    interval: int, module: str = "bench.lean_csms", name: str = "lean CSMS", extra: Sequence[str] = ()
) -> Iterator[Csms]:
    """A lean CSMS process (or `module`, a variant of it, given `extra` arguments) on a free port, once it answers
    its control routes."""
    port = free_port()
    with child(name, [sys.executable, "-m", module, str(port), str(interval), *extra]) as process:
        csms = Csms(process, port)
        try:

            def up() -> bool:
                try:
                    csms.stats("none")
                except httpx.HTTPError:
                    return False
                return True

            wait_for(up, 15, f"the {name}", interval=0.05, watch=[process])
            yield csms
        finally:
            csms.http.close()
