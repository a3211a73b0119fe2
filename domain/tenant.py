"""The tenant (organization): every other resource lives under one."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import values


class Tenant(Aggregate):
    """Recorded the first time a valid token names the organization."""

    @staticmethod
    def create_id(org_id: str) -> UUID:
        return tenant_uuid(org_id)

    @event("Registered")
    def __init__(self, org_id: str) -> None:
        self.org_id = values.org_id(org_id)


def tenant_uuid(org_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/tenants/{org_id}")
