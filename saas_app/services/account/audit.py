"""The audit trail: one row per change, written in the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from saas_app.models import AuditLog
from saas_app.services.account.views import AuditEventView, AuditPage
from saas_app.services.auth.principal import Principal
from saas_app.services.auth.tokens import sha256_hex
from saas_app.services.teams.permissions import Action, require


@dataclass(frozen=True)
class RequestContext:
    """Who is calling and from where (for audit rows and rate limits)."""

    ip: str = ""
    user_agent: str = ""
    request_id: str = ""


def record_event(
    *,
    session: Session,
    action: str,
    ctx: RequestContext,
    tenant_id: str | None = None,
    user_id: str | None = None,
    actor: str = "",
    target: str = "",
    details: dict[str, object] | None = None,
) -> AuditLog:
    """Add an audit row to `session` (committed with the caller's change).

    Args:
        session: The open database session.
        action: Dotted action name, e.g. `auth.signed_in`.
        ctx: The request context (IP, user agent, request id).
        tenant_id: The tenant the change belongs to.
        user_id: The user who acted, if any.
        actor: A display name for the actor (email or API key prefix).
        target: What was changed (an id or a name).
        details: Small JSON-able extra facts.
    """
    row = AuditLog(
        tenant_id=tenant_id, user_id=user_id, actor=actor[:120], action=action,
        target=target[:200], ip=ctx.ip[:64], user_agent=ctx.user_agent[:400],
        request_id=ctx.request_id[:64], details=json.dumps(details or {}, sort_keys=True),
    )
    session.add(row)
    return row


USER_PURGED = "account.user_purged"  # target: `purged_email_key(email)`, so a later sign-in can be told


def purged_email_key(email: str) -> str:
    """What a purge keeps of an address: a one-way hash, to tell a person who comes back (never the email)."""
    return sha256_hex(f"purged-user:{email.strip().lower()}")


def get_purged_at(*, session: Session, email: str) -> datetime | None:
    """When the workspace of `email` was deleted for good (the latest time), or None if it never was."""
    row = session.exec(
        select(AuditLog).where(col(AuditLog.tenant_id).is_(None), AuditLog.action == USER_PURGED,
                               AuditLog.target == purged_email_key(email))
        .order_by(col(AuditLog.created_at).desc())
    ).first()
    return row.created_at if row else None


def list_events(*, session: Session, tenant_id: str, limit: int = 20, offset: int = 0) -> tuple[list[AuditLog], int]:
    """This tenant's audit rows, newest first, and the total count."""
    base = select(AuditLog).where(AuditLog.tenant_id == tenant_id)
    rows = session.exec(
        base.order_by(col(AuditLog.created_at).desc(), col(AuditLog.id).desc()).offset(offset).limit(limit)
    ).all()
    total = session.exec(select(func.count()).select_from(AuditLog).where(AuditLog.tenant_id == tenant_id)).one()
    return list(rows), int(total)


def list_event_page(*, session: Session, principal: Principal, limit: int, offset: int) -> AuditPage:
    """A page of the caller's workspace's activity log, newest first, with the total count.

    Raises:
        Forbidden: The caller's role may not see the activity log.
    """
    require(principal, Action.AUDIT_VIEW)
    rows, total = list_events(session=session, tenant_id=principal.tenant_id, limit=limit, offset=offset)
    return AuditPage(items=[AuditEventView.from_row(r) for r in rows], total=total, limit=limit, offset=offset)
