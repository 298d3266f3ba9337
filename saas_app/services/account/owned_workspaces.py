"""Which workspaces stand in the way of deleting a person, and which go with them.

A workspace whose only owner is the person and which others use must be handed over (another
member made owner on the Team page) or deleted before the person's account can go. A workspace
where the person is the only member goes with the account.
"""

from __future__ import annotations

from sqlalchemy import Subquery, case
from sqlmodel import Session, col, func, select

from saas_app.models import Membership, Tenant
from saas_app.services.core.views import View
from saas_app.services.teams.permissions import Role

SOLE_OWNER = "sole_owner"  # the error code of a refused account deletion


class BlockingWorkspace(View):
    """A workspace the person is the only owner of while others are members: hand it over or delete it first."""

    tenant_id: str
    name: str
    members: int


def _counts() -> Subquery:
    """Per workspace: how many members and how many owners."""
    owners = func.sum(case((col(Membership.role) == Role.OWNER, 1), else_=0))
    return (select(col(Membership.tenant_id).label("tenant_id"), func.count().label("members"),
                   owners.label("owners")).group_by(col(Membership.tenant_id)).subquery())


def get_blocking_workspaces(*, session: Session, user_id: str) -> list[BlockingWorkspace]:
    """The workspaces where the person is the ONLY owner and other people are members, by name."""
    counts = _counts()
    rows = session.exec(
        select(Tenant.id, Tenant.name, counts.c.members)
        .join(Membership, col(Membership.tenant_id) == col(Tenant.id))
        .join(counts, counts.c.tenant_id == col(Tenant.id))
        .where(Membership.user_id == user_id, Membership.role == Role.OWNER, counts.c.owners == 1,
               counts.c.members > 1)
        .order_by(col(Tenant.name), col(Tenant.id))).all()
    return [BlockingWorkspace(tenant_id=tid, name=name, members=int(members)) for tid, name, members in rows]


def list_solo_workspaces(*, session: Session, user_id: str) -> list[str]:
    """The ids of the workspaces where the person is the only member (they go with the account)."""
    counts = _counts()
    return list(session.exec(
        select(Membership.tenant_id).join(counts, counts.c.tenant_id == col(Membership.tenant_id))
        .where(Membership.user_id == user_id, counts.c.members == 1)).all())


def blocking_message(blocking: list[BlockingWorkspace]) -> str:
    """Why the account cannot be deleted yet, naming the workspaces, in plain words."""
    names = ", ".join(f"\u201c{w.name}\u201d" for w in blocking)
    return (f"You are the only owner of {names}, which other people use. Make another member an owner on the "
            "Team page, or delete the workspace, then delete your account.")
