"""Locations: create, update, read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from adapters.http.models.common import Request, Response, ShortText, Text, domain_check
from domain import values
from domain.errors import InvalidValue


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue("timezone", "must be an IANA time zone name such as 'Europe/Paris'") from None
    return value


Country = Annotated[str, domain_check(values.country)]
Timezone = Annotated[str, Field(max_length=100), domain_check(_timezone)]
Slug = Annotated[str, domain_check(values.slug)]


class Coordinates(Request):
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)


class CreateLocationRequest(Request):
    name: Text
    address: Text
    city: Text
    country: Country
    coordinates: Coordinates
    timezone: Timezone | None = None
    owner_name: ShortText | None = None
    public: bool | None = None


class UpdateLocationRequest(Request):
    slug: Slug | None = None
    name: Text | None = None
    address: Text | None = None
    city: Text | None = None
    country: Country | None = None
    coordinates: Coordinates | None = None
    timezone: Timezone | None = None
    owner_name: ShortText | None = None
    public: bool | None = None
    status: ShortText | None = None


class LocationResponse(Response):
    id: str
    slug: str | None = None
    name: str | None = None
    address: str | None = None
    city: str | None = None
    country: str | None = None
    coordinates: Coordinates | None = None
    timezone: str | None = None
    owner_name: str | None = None
    public: bool | None = None
    status: str | None = None
    charger_count: int | None = Field(default=None, description="extension: chargers bound to the location")
    created_at: datetime | None = None
    updated_at: datetime | None = None


class LocationListResponse(Response):
    data: list[LocationResponse]
    total: int
    page: int
    limit: int
