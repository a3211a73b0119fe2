"""Child processes for the benchmarks and what /proc says about them (RSS, CPU time), plus the fd limit.

Every child is started by `child()`, a context manager that always stops it (SIGTERM, then SIGKILL after a timeout),
also when the benchmark fails; its stderr goes to a temp file whose tail is printed when it stops.
"""

from __future__ import annotations

import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOG_TAIL = 1500  # characters of a child's stderr printed when it stops
T = TypeVar("T")


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (the first line of /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / CLK_TCK, total / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (utime + stime of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass(frozen=True)
class FdLimit:
    before: tuple[int, int]
    after: tuple[int, int]
    error: str | None = None

    def describe(self, needed: int) -> str:
        soft, hard = self.after
        text = f"RLIMIT_NOFILE soft {self.before[0]} -> {soft} (hard {hard}) for the child processes"
        if self.error:
            text += f"; raising it failed: {self.error}"
        if soft < needed:
            text += f"; BLOCKS: about {needed} descriptors are needed in one process"
        return text


def raise_fd_limit() -> FdLimit:
    """Raises this process's soft RLIMIT_NOFILE to the hard limit; children started afterwards inherit it."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = before
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    error = None
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as failure:
            error = str(failure)
    return FdLimit(before, resource.getrlimit(resource.RLIMIT_NOFILE), error)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    started_at: float  # time.time() just before the process was started

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def tail(self, size: int = LOG_TAIL) -> str:
        """The end of its stderr (all of it when size < 0)."""
        self.log.flush()
        self.log.seek(0, os.SEEK_END)
        end = self.log.tell()
        self.log.seek(0 if size < 0 else max(0, end - size))
        return self.log.read().decode(errors="replace")

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")

    def send_line(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def read_line(self, timeout: float) -> str:
        """One line of the child's stdout; the child answers every command, so a bounded wait is enough."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(min(0.5, max(0.0, deadline - time.monotonic()))):
                    line = self.process.stdout.readline()
                    if not line:
                        self.check()
                        raise RuntimeError(f"{self.name} closed its stdout")
                    return line.decode().strip()
                self.check()
        raise TimeoutError(f"{self.name} did not answer within {timeout:g} s")

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM, wait, SIGKILL on timeout; returns the seconds it took to exit."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"{self.name} did not stop within {timeout:g} s: killed", file=sys.stderr)
            self.process.kill()
            self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        return time.monotonic() - started


@contextmanager
def child(
    name: str,
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    *,
    pipes: bool = False,
    on_exit: Callable[[str], None] | None = None,
) -> Iterator[Child]:
    """Starts `argv` in the project root; `pipes` gives it a stdin/stdout to talk over. Always stopped on exit;
    `on_exit` then gets its whole stderr."""
    with tempfile.TemporaryFile() as log:
        started_at = time.time()
        process = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stderr=log,
        )
        running = Child(name, process, log, started_at)
        try:
            yield running
        finally:
            running.stop()
            if on_exit is not None:
                on_exit(running.tail(size=-1))
            lines = [line for line in running.tail().splitlines() if line.strip()]
            if lines:
                print(f"--- stderr of {name} (tail) ---", *lines, sep="\n", file=sys.stderr)


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    *,
    interval: float = 0.1,
    watch: Sequence[Child] = (),
) -> T:
    """Polls `check` until it returns a value that is not None (or falsy False); bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        for process in watch:
            process.check()
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
