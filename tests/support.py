"""Test support: real gateway processes, PostgreSQL schemas, tokens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from adapters.tokens import mint

SECRET = "test-secret-" + "x" * 40
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def token(org: str | None = "acme", role: str = "user", ttl: int = 3600, sub: str = "tester") -> str:
    return mint(SECRET, org, role, ttl, sub)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields the OCPPLAB_DATABASE_URL that uses it, drops it afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{POSTGRES_DSN}?schema={name}"
    finally:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


@dataclass
class GatewayProcess:
    """A real `ocpplab-gateway` process on a free port."""

    data_dir: Path
    database_url: str | None = None
    command: str = "serve"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCPPLAB_")}
        env.update(OCPPLAB_DATA_DIR=str(self.data_dir), OCPPLAB_JWT_SECRET=SECRET, OCPPLAB_LOG_LEVEL="WARNING")
        if self.database_url:
            env["OCPPLAB_DATABASE_URL"] = self.database_url
        return env

    def start(self, timeout: float = 20.0) -> GatewayProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", self.command, "--port", str(self.port)],
            env=self.env(),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("gateway did not become healthy in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            log = self.process.stderr.read().decode(errors="replace")[-3000:] if self.process.stderr else ""
            raise RuntimeError(f"the gateway did not stop within {timeout} s; its log ends with:\n{log}") from None
        finally:
            if self.process.stderr:
                self.process.stderr.close()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)
