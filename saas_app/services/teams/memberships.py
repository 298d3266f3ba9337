"""Workspaces a person belongs to: memberships, the current workspace, creating and switching.

A person may belong to several workspaces (`Membership`, one role each). Each signed-in session
acts in one of them (`AuthSession.tenant_id`, also the `tid` claim of its tokens); a new sign-in
opens the workspace the person was most recently active in.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from saas_app.models import Membership, Tenant, User, utcnow
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.core.errors import InvalidInput, NotFound
from saas_app.services.core.views import IsoDatetime, View
from saas_app.services.teams.permissions import Role
from saas_app.services.usage.plans import default_plan_id, effective_plan_id, get_plan

NOT_A_MEMBER = "You are not a member of that workspace."
WORKSPACE_NAME_MAX = 80
TOUCH_EVERY = timedelta(minutes=1)  # how stale `last_active_at` may get while a member is active


class WorkspaceView(View):
    """One workspace the caller belongs to, as the switcher lists it."""

    tenant_id: str
    name: str
    role: str
    plan: str
    plan_name: str
    current: bool
    joined_at: IsoDatetime


def get_membership(*, session: Session, tenant_id: str, user_id: str) -> Membership | None:
    """The person's membership in a workspace, or None."""
    return session.exec(select(Membership).where(Membership.tenant_id == tenant_id,
                                                 Membership.user_id == user_id)).first()


def get_membership_or_raise(*, session: Session, tenant_id: str, user_id: str) -> Membership:
    """The person's membership in a workspace.

    Raises:
        NotFound: They are not a member (404: a workspace one does not belong to is not shown to exist).
    """
    membership = get_membership(session=session, tenant_id=tenant_id, user_id=user_id)
    if membership is None:
        raise NotFound(NOT_A_MEMBER)
    return membership


def latest_membership(*, session: Session, user_id: str) -> Membership | None:
    """The membership the person was most recently active in (where a new sign-in opens), or None."""
    return session.exec(select(Membership).where(Membership.user_id == user_id)
                        .order_by(col(Membership.last_active_at).desc(), col(Membership.id).desc())).first()


def lock_workspace(*, session: Session, tenant_id: str) -> None:
    """Hold the workspace's row until the caller's transaction ends, so checks that count its members
    (the last owner, free seats) and the write that follows them run one at a time per workspace.

    A no-op UPDATE rather than `SELECT ... FOR UPDATE`: it locks the row on PostgreSQL and, on SQLite
    (whose driver begins a transaction only at the first write), takes the database's write lock
    before the counts are read.
    """
    session.exec(update(Tenant).where(col(Tenant.id) == tenant_id).values(id=Tenant.id))


def touch_membership(*, session: Session, membership: Membership) -> None:
    """Record activity in the workspace (at most once a minute; committed with the caller's change)."""
    now = utcnow()
    if now - membership.last_active_at >= TOUCH_EVERY:
        membership.last_active_at = now
        session.add(membership)


def create_workspace(*, session: Session, user: User, name: str, ctx: RequestContext) -> Membership:
    """A new workspace on the default plan with `user` as its owner (flushed, not committed).

    Raises:
        InvalidInput: The name is empty or longer than `WORKSPACE_NAME_MAX` characters.
    """
    clean = " ".join((name or "").split())
    if not clean or len(clean) > WORKSPACE_NAME_MAX:
        raise InvalidInput(f"Give the workspace a name of 1 to {WORKSPACE_NAME_MAX} characters.", field="name")
    tenant = Tenant(name=clean, plan=default_plan_id())
    session.add(tenant)
    session.flush()
    membership = Membership(tenant_id=tenant.id, user_id=user.id, role=Role.OWNER)
    session.add(membership)
    session.flush()
    record_event(session=session, action="tenant.created", ctx=ctx, tenant_id=tenant.id, user_id=user.id,
                 actor=user.email, target=tenant.id)
    return membership


def personal_workspace_name(email: str) -> str:
    """The name of the workspace a first sign-in creates ("ada's workspace")."""
    return f"{email.split('@')[0]}'s workspace"[:WORKSPACE_NAME_MAX]


def list_workspaces(*, session: Session, user_id: str, current_tenant_id: str) -> list[WorkspaceView]:
    """Every workspace the person belongs to, by name, the current one marked."""
    rows = session.exec(select(Membership, Tenant).join(Tenant, col(Tenant.id) == col(Membership.tenant_id))
                        .where(Membership.user_id == user_id).order_by(col(Tenant.name), col(Tenant.id))).all()
    now = utcnow()
    views = []
    for membership, tenant in rows:
        plan = effective_plan_id(tenant.plan, tenant.plan_grace_until, now)
        views.append(WorkspaceView(tenant_id=tenant.id, name=tenant.name, role=membership.role, plan=plan,
                                   plan_name=get_plan(plan).name, current=tenant.id == current_tenant_id,
                                   joined_at=membership.created_at))
    return views


def create_workspace_for(*, session: Session, user_id: str, name: str, ctx: RequestContext,
                         current_tenant_id: str) -> WorkspaceView:
    """Create a workspace with the caller as owner (the current one stays current).

    Raises:
        InvalidInput: The name is empty or too long.
    """
    user = session.get(User, user_id)
    assert user is not None
    membership = create_workspace(session=session, user=user, name=name, ctx=ctx)
    views = list_workspaces(session=session, user_id=user_id, current_tenant_id=current_tenant_id)
    return next(v for v in views if v.tenant_id == membership.tenant_id)
