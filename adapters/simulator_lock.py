"""One simulator per charger: `serve` runs the whole fleet, `simulator --worker I --workers N` runs shard I.

Two processes running the same charger would open two connections with one identity and race on its recorded
state, so a simulator takes a lock before it starts and refuses to run when another one holds it: `serve` takes
the fleet lock exclusively; a worker takes it shared, plus its shard's lock exclusively. On SQLite the locks are
files in the data dir (flock); on PostgreSQL they are advisory locks of the schema, held by one connection. The
operating system or the server releases them when the process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from pathlib import Path
from typing import Any

from adapters.settings import Settings, postgres_connection_args

WHOLE_FLEET = -1


class SimulatorTaken(Exception):
    """Another simulator already runs (some of) these chargers."""


class SimulatorLock:
    def __init__(self, settings: Settings, index: int | None = None, workers: int = 1) -> None:
        """`index` None: the whole fleet (`serve`); else worker `index` of `workers`."""
        self.settings = settings
        self.index = index
        self.workers = workers
        self._held: list[Any] = []

    @property
    def what(self) -> str:
        return "the whole fleet" if self.index is None else f"worker {self.index + 1} of {self.workers}"

    def acquire(self) -> SimulatorLock:
        try:
            if self.settings.database_url:
                self._acquire_postgres()
            else:
                self._acquire_files()
        except BaseException:
            self.release()
            raise
        return self

    def _acquire_files(self) -> None:
        data_dir = Path(self.settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        fleet_mode = fcntl.LOCK_EX if self.index is None else fcntl.LOCK_SH
        self._lock_file(data_dir / "simulator.lock", fleet_mode)
        if self.index is not None:
            self._lock_file(data_dir / f"simulator-shard-{self.index}.lock", fcntl.LOCK_EX)

    def _lock_file(self, path: Path, mode: int) -> None:
        handle = path.open("a+")
        self._held.append(handle)
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SimulatorTaken(self._refusal(str(path.parent))) from None

    def _acquire_postgres(self) -> None:
        import psycopg

        env = self.settings.event_store_env()
        connection = psycopg.connect(**postgres_connection_args(env))
        self._held.append(connection)
        space = zlib.crc32(f"ocpplab-simulator:{env['POSTGRES_DBNAME']}:{env.get('POSTGRES_SCHEMA', '')}".encode())
        key = space & 0x7FFFFFFF
        fleet = "pg_try_advisory_lock" if self.index is None else "pg_try_advisory_lock_shared"
        taken = [connection.execute(f"SELECT {fleet}(%s, %s)", (key, WHOLE_FLEET)).fetchone()[0]]
        if self.index is not None:
            taken.append(connection.execute("SELECT pg_try_advisory_lock(%s, %s)", (key, self.index)).fetchone()[0])
        if not all(taken):
            raise SimulatorTaken(self._refusal("this PostgreSQL schema"))

    def _refusal(self, store: str) -> str:
        return (
            f"another simulator already runs chargers of {store} ({self.what} needs them): run either `serve` or "
            "`api` plus `simulator --worker I --workers N` processes with distinct I"
        )

    def release(self) -> None:
        for held in reversed(self._held):
            with contextlib.suppress(Exception):  # releasing on the way out
                held.close()
        self._held.clear()
