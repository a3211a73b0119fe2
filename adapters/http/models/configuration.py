"""A charger's OCPP configuration keys: read and change."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, RootModel

from adapters.http.models.common import Request, Response


class ConfigurationQuery(Request):
    keys: Annotated[str, Field(max_length=10_000, description="comma-separated keys; omitted: all")] | None = None


class ConfigurationUpdateRequest(RootModel[dict[Annotated[str, Field(min_length=1, max_length=200)], str]]):
    """A flat JSON object of configuration key -> value (strings)."""


class ConfigurationEntry(Response):
    key: str
    value: str | None = None
    readonly: bool | None = Field(default=None, description="extension")


class ConfigurationResponse(Response):
    configuration: list[ConfigurationEntry]


class ConfigurationChangeResponse(Response):
    status: str
    configured: list[str]
    msg: str
    command_id: str | None = Field(default=None, description="extension: the command record")
