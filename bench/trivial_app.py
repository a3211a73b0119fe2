"""The REST baseline: the cheapest Quart route, served exactly as `ocpplab-gateway serve` serves the gateway
(`hypercorn.asyncio.serve` in one process, same config). Run: `python -m bench.trivial_app PORT`."""

from __future__ import annotations

import asyncio
import signal
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

app = Quart("bench_trivial")


@app.get("/")
async def ok() -> dict[str, str]:
    return {"status": "ok"}


async def run(port: int) -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 5
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1])))
