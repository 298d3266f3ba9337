"""A workspace's members: listing them, changing roles, removing someone, leaving.

Access ends at once: removing a member (or a member leaving) revokes their sessions and API keys
in that workspace in the same transaction, and the principal cache drops their proofs when the
membership row goes. Open browser tabs are told through `access_changes`: the functions here
register `access_changes.note_access_change` to run after the caller's commit (an after-commit
hook on the database session), so routes and states only commit.
"""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from saas_app.models import ApiKey, AuthSession, Membership, User, utcnow
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.principal import Principal
from saas_app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from saas_app.services.core.views import IsoDatetime, View
from saas_app.services.teams import access_changes
from saas_app.services.teams.memberships import (
    create_workspace,
    get_membership_or_raise,
    latest_membership,
    lock_workspace,
    personal_workspace_name,
)
from saas_app.services.teams.permissions import Action, Role, can, require

NOT_A_MEMBER = "That person is not a member of this workspace."
LAST_OWNER = "A workspace needs at least one owner. Make someone else an owner first."
ONLY_MEMBER = "You are the only member of this workspace, so you cannot leave it. Delete the workspace instead."
REMOVE_YOURSELF = "You cannot remove yourself. Leave the workspace instead."
_ROLE_ORDER = {Role.OWNER.value: 0, Role.ADMIN.value: 1, Role.MEMBER.value: 2}


class MemberView(View):
    """One member of the workspace, as the team page lists them."""

    user_id: str
    email: str
    role: str
    joined_at: IsoDatetime
    last_active_at: IsoDatetime
    is_you: bool


def _view(membership: Membership, user: User, principal: Principal) -> MemberView:
    return MemberView(user_id=user.id, email=user.email, role=membership.role, joined_at=membership.created_at,
                      last_active_at=membership.last_active_at, is_you=user.id == principal.user_id)


def notify_after_commit(*, session: Session, user_ids: list[str]) -> None:
    """Tell these people's open tabs to check their access once `session` commits (a rollback tells
    nobody; a note after a later commit would only make a tab check again)."""
    access_changes.note_after_commit(session=session, user_ids=user_ids)


def count_owners(*, session: Session, tenant_id: str) -> int:
    """How many owners the workspace has."""
    return int(session.exec(select(func.count()).select_from(Membership)
                            .where(Membership.tenant_id == tenant_id, Membership.role == Role.OWNER)).one())


def count_members(*, session: Session, tenant_id: str) -> int:
    """How many members the workspace has (every role)."""
    return int(session.exec(select(func.count()).select_from(Membership)
                            .where(Membership.tenant_id == tenant_id)).one())


def list_members(*, session: Session, principal: Principal) -> list[MemberView]:
    """Every member of the caller's workspace: owners first, then admins, then members, each by email.

    Raises:
        Forbidden: The caller's role may not see members.
    """
    require(principal, Action.MEMBERS_VIEW)
    rows = session.exec(select(Membership, User).join(User, col(User.id) == col(Membership.user_id))
                        .where(Membership.tenant_id == principal.tenant_id)).all()
    ordered = sorted(rows, key=lambda row: (_ROLE_ORDER.get(row[0].role, 3), row[1].email))
    return [_view(membership, user, principal) for membership, user in ordered]


def _target(session: Session, principal: Principal, user_id: str) -> tuple[Membership, User]:
    membership = None
    if user_id and len(user_id) <= 32:
        try:
            membership = get_membership_or_raise(session=session, tenant_id=principal.tenant_id, user_id=user_id)
        except NotFound:
            membership = None
    user = session.get(User, user_id) if membership else None
    if membership is None or user is None:
        raise NotFound(NOT_A_MEMBER)
    return membership, user


def change_role(*, session: Session, principal: Principal, user_id: str, role: str,
                ctx: RequestContext) -> MemberView:
    """Give a member another role (flushed; committed by the caller, their tabs told after the commit).

    Returns:
        The member with their new role.

    Raises:
        Forbidden: The caller may not manage members, or (not an owner) touches the owner role.
        InvalidInput: `role` is not owner, admin or member (422).
        NotFound: `user_id` is not a member of the caller's workspace.
        Conflict: It would leave the workspace without an owner.
    """
    require(principal, Action.MEMBERS_MANAGE)
    if role not in {r.value for r in Role}:
        raise InvalidInput("Choose a role: owner, admin or member.", field="role")
    lock_workspace(session=session, tenant_id=principal.tenant_id)
    membership, user = _target(session, principal, user_id)
    if Role.OWNER in (role, membership.role):
        require(principal, Action.OWNERS_MANAGE)
    if membership.role == role:
        return _view(membership, user, principal)
    if membership.role == Role.OWNER and count_owners(session=session, tenant_id=principal.tenant_id) <= 1:
        raise Conflict(LAST_OWNER)
    old = membership.role
    membership.role = role
    session.add(membership)
    record_event(session=session, action="team.role_changed", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=user.email,
                 details={"from": old, "to": role, "member": user.id})
    session.flush()
    notify_after_commit(session=session, user_ids=[user.id])
    return _view(membership, user, principal)


def end_access(*, session: Session, tenant_id: str, user_id: str, keep_session_id: str = "") -> None:
    """Revoke the person's sessions acting in the workspace (except `keep_session_id`) and their API
    keys there (flushed with the caller's change; the principal cache drops them before the commit).

    Raises:
        ServiceUnavailable: The principal cache could not be cleared (nothing is revoked then).
    """
    session_ids = list(session.exec(select(AuthSession.id).where(
        AuthSession.user_id == user_id, AuthSession.tenant_id == tenant_id,
        col(AuthSession.revoked_at).is_(None), AuthSession.id != keep_session_id)).all())
    auth_sessions.revoke_sessions(session=session, session_ids=session_ids)
    now = utcnow()
    for key in session.exec(select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.tenant_id == tenant_id,
                                                 col(ApiKey.revoked_at).is_(None))).all():
        key.revoked_at = now
        session.add(key)
    session.flush()


def remove_member(*, session: Session, principal: Principal, user_id: str, ctx: RequestContext) -> None:
    """Remove someone from the caller's workspace: their membership goes, their sessions and API keys
    in it end at once; their renders and files stay with the workspace. Their open tabs are told
    after the caller's commit.

    Raises:
        Forbidden: The caller may not manage members, or (not an owner) removes an owner.
        NotFound: `user_id` is not a member of the caller's workspace.
        Conflict: The caller removes themselves (they leave instead).
    """
    require(principal, Action.MEMBERS_MANAGE)
    if user_id == principal.user_id:
        raise Conflict(REMOVE_YOURSELF)
    membership, user = _target(session, principal, user_id)
    if membership.role == Role.OWNER:
        require(principal, Action.OWNERS_MANAGE)
    end_access(session=session, tenant_id=principal.tenant_id, user_id=user.id)
    session.delete(membership)
    record_event(session=session, action="team.member_removed", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=user.email,
                 details={"member": user.id, "role": membership.role})
    session.flush()
    notify_after_commit(session=session, user_ids=[user.id])


def _sole_owner(session: Session, principal: Principal) -> bool:
    return principal.role == Role.OWNER and count_owners(session=session, tenant_id=principal.tenant_id) <= 1


def leave_refusal(*, session: Session, principal: Principal) -> str:
    """Why the caller cannot leave their current workspace, in plain words ("" when they can): they
    are its only member, or its last owner. `leave_workspace` refuses with this same message."""
    if count_members(session=session, tenant_id=principal.tenant_id) <= 1:
        return ONLY_MEMBER
    return LAST_OWNER if _sole_owner(session, principal) else ""


def may_change_own_role(*, session: Session, principal: Principal) -> bool:
    """Whether the caller may give themselves another role (step down): they manage members and are
    not the workspace's last owner (`change_role` refuses the last owner)."""
    return can(principal.role, Action.MEMBERS_MANAGE) and not _sole_owner(session, principal)


def leave_workspace(*, session: Session, principal: Principal, ctx: RequestContext) -> str:
    """The caller leaves their current workspace. Their other sessions there and their API keys there
    end; this session moves to the workspace they were most recently active in (a new personal
    workspace when there is none).

    Returns:
        The tenant id this session now acts in.

    Raises:
        Forbidden: The caller is an API key.
        Conflict: They are the only member (delete the workspace instead) or its last owner.
    """
    if principal.via == "api_key":
        raise Forbidden("An API key cannot leave a workspace; sign in to leave it.")
    lock_workspace(session=session, tenant_id=principal.tenant_id)
    membership = get_membership_or_raise(session=session, tenant_id=principal.tenant_id, user_id=principal.user_id)
    refusal = leave_refusal(session=session, principal=principal)
    if refusal:
        raise Conflict(refusal)
    end_access(session=session, tenant_id=principal.tenant_id, user_id=principal.user_id,
               keep_session_id=principal.session_id)
    session.delete(membership)
    record_event(session=session, action="team.member_left", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=principal.email)
    session.flush()
    user = session.get(User, principal.user_id)
    assert user is not None
    following = latest_membership(session=session, user_id=user.id)
    if following is None:
        following = create_workspace(session=session, user=user, name=personal_workspace_name(user.email), ctx=ctx)
    auth_session = session.get(AuthSession, principal.session_id) if principal.session_id else None
    if auth_session is not None:
        auth_session.tenant_id = following.tenant_id
        session.add(auth_session)
    following.last_active_at = utcnow()
    session.add(following)
    session.flush()
    notify_after_commit(session=session, user_ids=[user.id])
    return following.tenant_id
