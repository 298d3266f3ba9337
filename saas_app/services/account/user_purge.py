"""The purge of one person's account (after `user_deletion`'s grace period).

Workspaces where the person is the only member are purged whole (`deletion.purge_tenant`). In the
workspaces they share, their membership goes and their sessions, refresh tokens, API keys, sign-in
links, exports and invitations to their address go everywhere; the videos and files they made
stay with the workspace, and the workspace's audit rows keep its history with "former member" in
place of their address. The `User` row is deleted when nothing references it any more, otherwise
pseudonymised (`deleted-<id>@deleted.invalid`). One pseudonymous audit row stays, so a person who
signs in again with the address is told their account was deleted.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from sqlalchemy import delete, func, or_, update
from sqlmodel import Session, SQLModel, col, select

from saas_app import routes
from saas_app.models import (
    ApiKey,
    AuditLog,
    AuthSession,
    DataExport,
    Invitation,
    MagicLink,
    Membership,
    RefreshToken,
    User,
    UserDeletion,
    utcnow,
)
from saas_app.services.account import deletion
from saas_app.services.account.audit import USER_PURGED, RequestContext, purged_email_key, record_event
from saas_app.services.account.owned_workspaces import (
    BlockingWorkspace,
    blocking_message,
    get_blocking_workspaces,
    list_solo_workspaces,
)
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.core.mail import send_email
from saas_app.services.core.storage import Area, get_store

log = logging.getLogger(__name__)
FORMER_MEMBER = "former member"
PSEUDONYM_DOMAIN = "deleted.invalid"


class UserPurge(StrEnum):
    """What `purge_user` did."""

    PURGED = "purged"
    BLOCKED = "blocked"  # they had become the only owner of a shared workspace: nothing deleted, they were told
    GONE = "gone"  # no such account (already purged)


def pseudonym_email(user_id: str) -> str:
    """The address a purged account keeps when its videos stay in shared workspaces."""
    return f"deleted-{user_id}@{PSEUDONYM_DOMAIN}"


def purge_user(*, session: Session, user_id: str) -> UserPurge:
    """Delete a person's account (idempotent; the caller commits).

    Returns:
        PURGED; BLOCKED when they are (again) the only owner of a workspace others use: the pending
        deletion is dropped and they are emailed what to do; GONE when there is no such account.
    """
    user = session.get(User, user_id)
    if user is None or user.email.endswith(f"@{PSEUDONYM_DOMAIN}"):
        session.exec(delete(UserDeletion).where(col(UserDeletion.user_id) == user_id))
        return UserPurge.GONE
    blocking = get_blocking_workspaces(session=session, user_id=user_id)
    if blocking:
        _refuse(session, user, blocking)
        return UserPurge.BLOCKED
    solo = list_solo_workspaces(session=session, user_id=user_id)
    for tenant_id in solo:
        deletion.purge_tenant(session=session, tenant_id=tenant_id)
    shared = list(session.exec(select(Membership.tenant_id).where(Membership.user_id == user_id)).all())
    email = user.email
    _end_access(session, user)
    _forget_in_audit(session, user_id, email)
    for tenant_id in shared:  # the workspace's history says a member left, without naming them
        record_event(session=session, action="account.member_deleted", ctx=RequestContext(), tenant_id=tenant_id,
                     actor="system", target=FORMER_MEMBER)
    _drop_or_pseudonymise(session, user)
    record_event(session=session, action=USER_PURGED, ctx=RequestContext(), actor="system",
                 target=purged_email_key(email),
                 details={"workspaces_deleted": len(solo), "workspaces_left": len(shared)})
    return UserPurge.PURGED


def _refuse(session: Session, user: User, blocking: list[BlockingWorkspace]) -> None:
    """Drop the pending deletion and tell the person why nothing was deleted."""
    session.exec(delete(UserDeletion).where(col(UserDeletion.user_id) == user.id))
    record_event(session=session, action="account.user_deletion_blocked", ctx=RequestContext(), user_id=user.id,
                 actor="system", details={"workspaces": [w.tenant_id for w in blocking]})
    link = routes.absolute(routes.ACCOUNT)
    why = blocking_message(blocking)
    send_email(to=user.email, subject="Your account was not deleted",
               text=f"We did not delete your account. {why}\nThen ask again on your account page:\n{link}\n",
               html=f"<p>We did not delete your account. {why}</p>"
                    f"<p>Then ask again on <a href=\"{link}\">your account page</a>.</p>")


def _end_access(session: Session, user: User) -> None:
    """Every way the person gets in or is expected, in every workspace, ends now."""
    session_ids = list(session.exec(select(AuthSession.id).where(AuthSession.user_id == user.id)).all())
    auth_sessions.forget_users(user_ids=[user.id], session_ids=session_ids)
    exports = list(session.exec(select(DataExport.filename).where(DataExport.user_id == user.id)).all())
    store = get_store(Area.EXPORTS)
    for name in exports:
        store.delete(key=name)
    session.exec(delete(RefreshToken).where(col(RefreshToken.user_id) == user.id))
    session.exec(delete(AuthSession).where(col(AuthSession.user_id) == user.id))
    session.exec(delete(ApiKey).where(col(ApiKey.user_id) == user.id))
    session.exec(delete(DataExport).where(col(DataExport.user_id) == user.id))
    session.exec(delete(MagicLink).where(col(MagicLink.email) == user.email))
    session.exec(delete(Invitation).where(func.lower(Invitation.email) == user.email.lower()))
    session.exec(delete(Membership).where(col(Membership.user_id) == user.id))
    session.exec(delete(UserDeletion).where(col(UserDeletion.user_id) == user.id))


def _forget_in_audit(session: Session, user_id: str, email: str) -> None:
    """Their own rows outside any workspace go; in workspaces their address becomes "former member"."""
    mine = or_(col(AuditLog.user_id) == user_id, col(AuditLog.actor) == email)
    session.exec(delete(AuditLog).where(col(AuditLog.tenant_id).is_(None), mine))
    mentions = or_(mine, col(AuditLog.target) == email, col(AuditLog.details).contains(email))
    session.exec(update(AuditLog).where(mentions).values(
        user_id=None, actor=func.replace(AuditLog.actor, email, FORMER_MEMBER),
        target=func.replace(AuditLog.target, email, FORMER_MEMBER),
        details=func.replace(AuditLog.details, email, FORMER_MEMBER)))


def _referenced(session: Session, user_id: str) -> bool:
    """Whether any row still points at the account (a video or file kept by a shared workspace)."""
    for table in SQLModel.metadata.sorted_tables:
        for column in table.c:
            if any(fk.target_fullname == "user.id" for fk in column.foreign_keys):
                found = session.exec(select(column).where(column == user_id).limit(1)).first()
                if found is not None:
                    return True
    return False


def _drop_or_pseudonymise(session: Session, user: User) -> None:
    session.flush()
    if _referenced(session, user.id):
        user.email, user.last_login_at, user.tokens_valid_after = pseudonym_email(user.id), None, utcnow()
        session.add(user)
    else:
        session.delete(user)
    session.flush()
