"""The account page's view of signed-in devices: list them and end any one."""

from __future__ import annotations

from sqlmodel import Session, col, select

from saas_app.models import AuthSession, utcnow
from saas_app.services.account.activity import describe_device
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.account.views import SessionView
from saas_app.services.auth.sessions import Principal, revoke_sessions
from saas_app.services.core.errors import NotFound


def list_active_sessions(*, session: Session, principal: Principal) -> list[SessionView]:
    """The user's unrevoked, unexpired sessions, most recently seen first (the caller's own marked current)."""
    rows = session.exec(
        select(AuthSession).where(AuthSession.user_id == principal.user_id, col(AuthSession.revoked_at).is_(None),
                                  AuthSession.expires_at > utcnow())
        .order_by(col(AuthSession.last_seen_at).desc())
    ).all()
    return [SessionView(id=s.id, device=describe_device(s.user_agent), ip=s.ip, kind=s.kind, created_at=s.created_at,
                        last_seen_at=s.last_seen_at, current=s.id == principal.session_id) for s in rows]


def revoke_session(*, session: Session, principal: Principal, session_id: str, ctx: RequestContext) -> None:
    """End one of the user's own sessions (its cookie, tokens and refresh family stop working).

    Raises:
        NotFound: Not one of this user's active sessions.
    """
    row = session.get(AuthSession, session_id) if session_id and len(session_id) <= 32 else None
    if row is None or row.user_id != principal.user_id or row.revoked_at is not None:
        raise NotFound("We couldn't find that session.")
    revoke_sessions(session=session, session_ids=[row.id])
    record_event(session=session, action="auth.session_revoked", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=row.id)
