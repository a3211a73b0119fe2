"""Value objects: each validates itself when built and is immutable afterwards."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from domain.errors import InvalidValue

_ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_IDENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_TEXT = 200
MAX_URL = 2048


def org_id(value: str) -> str:
    """A tenant (organization) id: URL-safe, 1-64 characters."""
    if not isinstance(value, str) or not _ORG_ID.match(value):
        raise InvalidValue("org_id", "must be 1-64 characters of letters, digits, '.', '_' or '-'")
    return value


def identity(value: str) -> str:
    """A charge-point identity, the last path segment of its OCPP URL (OCPP: at most 48 characters)."""
    if not isinstance(value, str) or not _IDENTITY.match(value):
        raise InvalidValue(
            "identity", "must be 1-48 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def text(field: str, value: str, *, max_length: int = MAX_TEXT) -> str:
    """A required display text: stripped, non-empty, bounded."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(field, "must not be empty")
    value = value.strip()
    if len(value) > max_length:
        raise InvalidValue(field, f"must be at most {max_length} characters")
    return value


def country(value: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-case."""
    code = value.strip().upper() if isinstance(value, str) else ""
    if not _COUNTRY.match(code):
        raise InvalidValue("country", "must be an ISO 3166-1 alpha-2 code such as 'FR'")
    return code


def slug(value: str) -> str:
    """A URL slug: lower-case words joined by single hyphens."""
    if not isinstance(value, str) or not _SLUG.match(value) or len(value) > MAX_TEXT:
        raise InvalidValue("slug", "must be lower-case letters and digits joined by single hyphens")
    return value


def slugify(name: str) -> str:
    """The slug stem derived from a display name ('La Défense Hub' -> 'la-d-fense-hub')."""
    stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return stem[:60].strip("-") or "location"


@dataclass(frozen=True)
class Coordinates:
    """A point in decimal degrees (WGS 84)."""

    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        for field, value, bound in (("latitude", self.latitude, 90.0), ("longitude", self.longitude, 180.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidValue(f"coordinates.{field}", "must be a finite number")
            if not -bound <= value <= bound:
                raise InvalidValue(f"coordinates.{field}", f"must be between -{bound:g} and {bound:g}")
        object.__setattr__(self, "latitude", float(self.latitude))
        object.__setattr__(self, "longitude", float(self.longitude))

    def as_dict(self) -> dict[str, float]:
        return {"latitude": self.latitude, "longitude": self.longitude}


class OcppVersion(StrEnum):
    """The OCPP version a charger speaks, spelled as the charger resources spell it."""

    V16 = "OCPP1.6"
    V201 = "OCPP2.0.1"

    @classmethod
    def parse(cls, value: str) -> OcppVersion:
        """Accepts either spelling ('OCPP1.6' or 'ocpp1.6')."""
        for version in cls:
            if isinstance(value, str) and value.upper() == version.value:
                return version
        raise InvalidValue("ocpp_version", "must be 'OCPP1.6' or 'OCPP2.0.1'")

    @property
    def subprotocol(self) -> str:
        """The WebSocket subprotocol and the command spelling: 'ocpp1.6' / 'ocpp2.0.1'."""
        return self.value.lower()


def csms_url(value: str) -> str:
    """The CSMS WebSocket URL a charger connects to: ws:// or wss:// with a host."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("ws_url", "must not be empty")
    value = value.strip()
    if len(value) > MAX_URL:
        raise InvalidValue("ws_url", f"must be at most {MAX_URL} characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise InvalidValue("ws_url", f"is not a valid URL ({error})") from None
    if parts.scheme.lower() not in ("ws", "wss"):
        raise InvalidValue("ws_url", "must start with ws:// or wss://")
    if not parts.hostname:
        raise InvalidValue("ws_url", "must name a host")
    if parts.fragment:
        raise InvalidValue("ws_url", "must not carry a fragment")
    if any(ch.isspace() for ch in value):
        raise InvalidValue("ws_url", "must not contain whitespace")
    return value
