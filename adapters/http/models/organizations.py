"""Organizations (tenants), registered by an admin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from adapters.http.models.common import Request, Response, domain_check
from domain import values


class OrganizationRequest(Request):
    id: Annotated[str, domain_check(values.org_id)]


class OrganizationResponse(Response):
    id: str
    registered_at: datetime


class OrganizationListResponse(Response):
    data: list[OrganizationResponse]
    total: int
