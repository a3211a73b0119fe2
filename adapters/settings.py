"""Configuration from the environment (each also a CLI flag where it makes sense)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path("./var"))
    database_url: str | None = None
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    secret_key: str | None = None
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            data_dir=Path(env.get("OCPPLAB_DATA_DIR") or "./var"),
            database_url=env.get("OCPPLAB_DATABASE_URL") or None,
            jwt_secret=env.get("OCPPLAB_JWT_SECRET") or None,
            jwt_public_key=env.get("OCPPLAB_JWT_PUBLIC_KEY") or None,
            jwks_url=env.get("OCPPLAB_JWKS_URL") or None,
            jwt_issuer=env.get("OCPPLAB_JWT_ISSUER") or None,
            jwt_audience=env.get("OCPPLAB_JWT_AUDIENCE") or None,
            secret_key=env.get("OCPPLAB_SECRET_KEY") or None,
            log_level=(env.get("OCPPLAB_LOG_LEVEL") or "INFO").upper(),
        )

    @property
    def views_path(self) -> Path:
        return self.data_dir / "views.sqlite"

    @property
    def secret_path(self) -> Path:
        return self.data_dir / "jwt-secret"

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing library's persistence settings: SQLite under the data dir, or PostgreSQL."""
        common = {"AGGREGATE_CACHE_MAXSIZE": "10000", "CREATE_TABLE": "y"}
        if not self.database_url:
            return {
                **common,
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "APPLICATION_RECORDER_TOPIC": "adapters.store.chain:ChainedSQLiteRecorder",
                "SQLITE_DBNAME": str(self.data_dir / "events.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "10",
            }
        url = urlsplit(self.database_url)
        if url.scheme not in ("postgresql", "postgres"):
            raise ValueError("OCPPLAB_DATABASE_URL must be a postgresql:// URL")
        env = {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "adapters.store.chain:ChainedPostgresRecorder",
            "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
        }
        schema = parse_qs(url.query).get("schema")
        if schema:
            env["POSTGRES_SCHEMA"] = schema[0]
        return env


def postgres_connection_args(env: dict[str, str]) -> dict[str, Any]:
    """psycopg.connect() arguments for the PostgreSQL store an `event_store_env()` describes (autocommit)."""
    return {
        "dbname": env["POSTGRES_DBNAME"],
        "host": env.get("POSTGRES_HOST"),
        "port": env.get("POSTGRES_PORT"),
        "user": env.get("POSTGRES_USER"),
        "password": env.get("POSTGRES_PASSWORD") or None,
        "autocommit": True,
    }
