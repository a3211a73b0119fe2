"""`ocpplab-gateway demo-csms`: a permissive CSMS to point simulated chargers at, printing what they send."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from adapters.csms.server import CsmsServer

HISTORY = 10_000  # frames (and CALLs per charger) kept in memory; the demo may run for days


def _print_line(line: str) -> None:
    print(line, flush=True)


async def run_demo_csms(host: str, port: int) -> None:
    """Serves OCPP 1.6J and 2.0.1 on host:port until cancelled or SIGINT/SIGTERM; one line per received CALL.

    Every charger is accepted (any identity, no authentication, Accepted boots and id tags); the
    `ocpp` library still validates every frame against the official schemas and answers invalid ones
    with a CallError.
    """
    server = CsmsServer(host, port, log=_print_line, history=HISTORY)
    await server.start()
    url = server.url("ocpp")
    _print_line(f"Demo CSMS listening on {url} (OCPP 1.6J and 2.0.1)")
    _print_line(f"Point chargers at ws_url {url}; each connects as {url}/<identity>. Ctrl-C stops.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # no signals off the main thread
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        await stop.wait()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await server.stop()
        _print_line("Demo CSMS stopped")
