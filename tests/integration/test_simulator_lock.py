"""One simulator per charger: a second `serve`, or a worker of a shard that already runs, refuses to start."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.support import ROOT, GatewayProcess


def start_worker(server: GatewayProcess, index: int, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "simulator", "--worker", str(index), "--workers", str(workers)],
        env=server.env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def running_after(process: subprocess.Popen, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        time.sleep(0.1)
    return True


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


def test_a_worker_refuses_to_run_beside_serve_on_the_same_store(tmp_path, store_url):
    server = GatewayProcess(tmp_path / "data", store_url).start()
    try:
        worker = start_worker(server, 0, 1)
        assert worker.wait(30) == 2
        assert "another simulator already runs" in worker.stderr.read()
    finally:
        server.stop()


def test_workers_of_distinct_shards_run_together_but_a_shard_runs_once(tmp_path, store_url):
    api = GatewayProcess(tmp_path / "data", store_url, "api").start()
    first, second, again = start_worker(api, 0, 2), start_worker(api, 1, 2), None
    try:
        assert running_after(first) and running_after(second)
        again = start_worker(api, 0, 2)
        assert again.wait(30) == 2
        assert "worker 1 of 2" in again.stderr.read()
        stop(first)
        replacement = start_worker(api, 0, 2)  # the lock went with the process
        assert running_after(replacement)
        stop(replacement)
    finally:
        for process in (first, second, again):
            if process is not None:
                stop(process)
        api.stop()
