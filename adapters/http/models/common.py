"""Shared by every resource's models: the request/response bases, pagination, common field types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.errors import InvalidValue


def domain_check(check: Any) -> Any:
    """Runs a domain value check inside pydantic, so a bad value answers 422 at its field."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except InvalidValue as error:
            raise ValueError(error.message) from None

    return AfterValidator(validate)


def _utc(value: datetime) -> datetime:
    """Query moments in UTC (naive means UTC); a moment that leaves the calendar once in UTC is a 422."""
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        raise ValueError("is out of range once converted to UTC") from None


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]


class Request(BaseModel):
    """Request bodies ignore unknown keys (as FastAPI does)."""

    model_config = ConfigDict(extra="ignore")


class Response(BaseModel):
    model_config = ConfigDict(extra="allow")


MAX_BULK = 1000
MAX_PAGE = 1_000_000_000  # keeps OFFSET within SQLite's integers


class PageQuery(Request):
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    limit: int = Field(default=50, ge=1, le=100)
