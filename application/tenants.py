"""Use cases of tenants: recorded the first time a valid token names one."""

from __future__ import annotations

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.base import GatewayBase
from application.ports import Actor
from domain import values
from domain.tenant import Tenant, tenant_uuid


class TenantUseCases(GatewayBase):
    """Tenants are never created by a request of their own: the first valid token of an organization records it."""

    def ensure_tenant(self, actor: Actor) -> int | None:
        """Records the tenant the first time a valid token names it; returns the position if it was new."""
        org = actor.tenant_id
        if org in self._known_tenants:
            return None
        try:
            self.repository.get(tenant_uuid(org))
            position = None
        except AggregateNotFoundError:
            try:
                position = self._save(actor, Tenant(org_id=org))
            except IntegrityError:  # registered concurrently by another request or process
                position = None
        self._known_tenants.add(org)
        return position

    def knows_tenant(self, org_id: str) -> bool:
        """Whether this process has already seen the tenant recorded (no store access)."""
        return org_id in self._known_tenants

    def tenant_exists(self, org_id: str) -> bool:
        if org_id in self._known_tenants:
            return True
        try:
            self.repository.get(tenant_uuid(values.org_id(org_id)))
        except AggregateNotFoundError:
            return False
        self._known_tenants.add(org_id)
        return True
