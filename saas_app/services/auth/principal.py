"""The verified caller of a request, and how one is made from its rows."""

from __future__ import annotations

from dataclasses import dataclass

from saas_app.models import Membership, Tenant, User, utcnow
from saas_app.services.usage.plans import effective_plan_id


@dataclass(frozen=True)
class Principal:
    """The verified caller of a request."""

    user_id: str
    tenant_id: str  # the workspace the caller acts in (the session's current one, or the API key's)
    email: str
    role: str  # the caller's role there (`services/teams/permissions.Role`)
    plan: str
    session_id: str
    via: str = "session"  # session (browser cookie or access token) | api_key
    actor: str = ""  # the API key prefix when `via` is api_key

    @property
    def actor_name(self) -> str:
        """Who acted, for audit rows: the API key prefix, else the user's email."""
        return self.actor or self.email


def principal_for(user: User, tenant: Tenant, membership: Membership, session_id: str, *, via: str = "session",
                  actor: str = "") -> Principal:
    """The principal of a member acting in a workspace, with their role and the plan in force now."""
    plan = effective_plan_id(tenant.plan, tenant.plan_grace_until, utcnow())
    return Principal(user_id=user.id, tenant_id=tenant.id, email=user.email, role=membership.role,
                     plan=plan, session_id=session_id, via=via, actor=actor)


def proof_lifetime(tenant: Tenant, *ends: float) -> float:
    """Seconds a principal stays true without any row changing: until the earliest of `ends`
    (epoch seconds: a token's or session's expiry) and the end of a plan's grace period."""
    now = utcnow()
    limits = [end - now.timestamp() for end in ends]
    if tenant.plan_grace_until is not None and tenant.plan_grace_until > now:
        limits.append((tenant.plan_grace_until - now).total_seconds())
    return max(0.0, min(limits, default=float("inf")))
