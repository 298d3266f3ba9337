"""Workspace deletion (GDPR Art. 17): scheduled with a grace period, then a purge of every store.

The purge walks every table that has a `tenant_id` column (so a new tenant-owned table is
covered without code here: memberships, invitations, sessions opened in the workspace, renders,
ledger, audit, keys, exports, billing), the refresh tokens of those sessions, Redis keys, stored
files, the JSONL usage logs and exports, and Stripe. What remains is one pseudonymous audit row.
The members' own accounts (their `User` rows and their other workspaces) stay: deleting a person
is `user_deletion`.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import redis
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import delete
from sqlmodel import Session, SQLModel, col, select

from saas_app import routes
from saas_app.models import (
    AccountDeletion,
    AuthSession,
    DataExport,
    Membership,
    RefreshToken,
    Render,
    Subscription,
    Tenant,
    User,
    utcnow,
)
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.auth import principal_cache
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.sessions import Principal
from saas_app.services.auth.tokens import sha256_hex
from saas_app.services.billing import checkout as billing
from saas_app.services.core import queue
from saas_app.services.core.errors import BillingError, InvalidInput, NotFound
from saas_app.services.core.mail import send_email
from saas_app.services.core.storage import Area, get_store
from saas_app.services.renders import changes
from saas_app.services.renders.files import tenant_prefix
from saas_app.services.teams.permissions import Action, require
from saas_app.services.usage import plans, quotas
from saas_app.settings import get_settings

log = logging.getLogger(__name__)
STOP_RENDERS_SECONDS = 60  # how long the purge waits for the tenant's running renders to stop


def get_deletion(*, session: Session, tenant_id: str) -> AccountDeletion | None:
    """The tenant's pending deletion, if any."""
    return session.get(AccountDeletion, tenant_id)


def grace_period_text() -> str:
    """How long a scheduled deletion waits, in words ("24 hours", "3 days")."""
    hours = get_settings().DELETION_GRACE_HOURS
    if hours >= 48 and hours % 24 == 0:
        return f"{hours // 24} days"
    return f"{hours} hour{'' if hours == 1 else 's'}"


def schedule_deletion(*, session: Session, principal: Principal, confirm_email: str,
                      ctx: RequestContext) -> AccountDeletion:
    """Schedule the tenant's deletion after `DELETION_GRACE_HOURS` and email a cancel link.

    Raises:
        Forbidden: Not the owner. InvalidInput: The typed email is not the account's.
    """
    require(principal, Action.WORKSPACE_DELETE)
    if (confirm_email or "").strip().lower() != principal.email.lower():
        raise InvalidInput("Type your account email exactly to confirm.", field="confirm_email")
    settings = get_settings()
    when = utcnow() + timedelta(hours=settings.DELETION_GRACE_HOURS)
    row = session.get(AccountDeletion, principal.tenant_id) or AccountDeletion(
        tenant_id=principal.tenant_id, requested_by=principal.user_id, scheduled_for=when)
    row.scheduled_for, row.requested_at = when, utcnow()
    session.add(row)
    record_event(session=session, action="account.deletion_scheduled", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, details={"scheduled_for": when.isoformat()})
    session.commit()
    try:
        _schedule_purge(principal.tenant_id, when)
    except redis.RedisError as exc:  # the scheduled sweep purges due deletions anyway
        log.warning("could not schedule purge job: %s", exc)
    _tell_members(session, principal, when)
    return row


def _tell_members(session: Session, principal: Principal, when: datetime) -> None:
    """Email the owner who asked (with the cancel link) and every other member (a heads-up)."""
    tenant = session.get(Tenant, principal.tenant_id)
    name = tenant.name if tenant else "Your workspace"
    link = routes.absolute(routes.ACCOUNT)
    stamp = when.strftime("%d %b %Y %H:%M UTC")
    send_email(to=principal.email, subject="Your workspace will be deleted",
               text=f"The workspace \"{name}\" and all its data will be deleted on {stamp}.\n"
                    "Your own account and your other workspaces stay.\n"
                    f"Changed your mind? Cancel the deletion here before then:\n{link}\n",
               html=f"<p>The workspace <b>{name}</b> and all its data will be deleted on <b>{stamp}</b>.</p>"
                    "<p>Your own account and your other workspaces stay.</p>"
                    f"<p>Changed your mind? <a href=\"{link}\">Cancel the deletion</a> before then.</p>")
    members = select(User.email).join(Membership, col(Membership.user_id) == col(User.id)).where(
        Membership.tenant_id == principal.tenant_id, Membership.user_id != principal.user_id)
    for email in session.exec(members).all():
        send_email(to=email, subject="A workspace you belong to will be deleted",
                   text=f"An owner scheduled the workspace \"{name}\" for deletion on {stamp}, with its videos "
                        "and files. Download what you need before then. Your own account stays.\n",
                   html=f"<p>An owner scheduled the workspace <b>{name}</b> for deletion on <b>{stamp}</b>, "
                        "with its videos and files. Download what you need before then. "
                        "Your own account stays.</p>")


def cancel_deletion(*, session: Session, principal: Principal, ctx: RequestContext) -> None:
    """Cancel a pending deletion; nothing is lost.

    Raises:
        Forbidden: Not an owner.
        NotFound: No deletion is pending.
    """
    require(principal, Action.WORKSPACE_DELETE)
    row = session.get(AccountDeletion, principal.tenant_id)
    if row is None:
        raise NotFound("No deletion is scheduled for this workspace.")
    session.delete(row)
    record_event(session=session, action="account.deletion_canceled", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name)
    try:
        Job.fetch(queue.purge_job_id(principal.tenant_id), connection=queue.get_rq_connection()).cancel()
    except (NoSuchJobError, redis.RedisError) as exc:
        log.info("no purge job to cancel: %s", exc)


def _purge_stripe(tenant: Tenant, subscription_id: str | None) -> None:
    if not tenant.stripe_customer_id or not plans.billing_configured():
        return
    client = billing.stripe_client()
    customer_id = tenant.stripe_customer_id
    if subscription_id:
        try:
            billing.call_stripe(lambda: client.v1.subscriptions.cancel(subscription_id))
        except BillingError:
            log.info("subscription %s already gone or not cancelable", subscription_id)
    billing.call_stripe(lambda: client.v1.customers.delete(customer_id))


def _stop_running_renders(render_ids: list[str]) -> None:
    """Stop the tenant's renders that workers are running and wait until they have ended.

    The deletion is due, so the pipeline writes nothing more for the tenant (`purge_fence`); this
    makes sure no work-horse is still writing while the purge removes what exists.

    Raises:
        RuntimeError: A render did not stop within `STOP_RENDERS_SECONDS` (the purge is retried).
    """
    running = queue.stop_jobs([queue.render_job_id(rid) for rid in render_ids], timeout=STOP_RENDERS_SECONDS)
    if running:
        raise RuntimeError(f"renders still running after {STOP_RENDERS_SECONDS} s: {running}; purge retried later")


def _purge_redis(tenant_id: str, user_ids: list[str], session_ids: list[str], render_ids: list[str]) -> None:
    """Ask each owner of Redis keys to forget the tenant, then drop its jobs (not the one running this).

    Every principal cached for the workspace (sessions, tokens, API keys) and the members' cached
    principals are dropped, so nobody keeps acting in it a moment longer.
    """
    quotas.forget_tenant(tenant_id=tenant_id, render_ids=render_ids)
    changes.forget_tenant(tenant_id=tenant_id)
    principal_cache.invalidate([principal_cache.tenant_scope_of(tenant_id)])
    auth_sessions.forget_users(user_ids=user_ids, session_ids=session_ids)
    current = get_current_job()
    queue.delete_jobs([*[queue.render_job_id(rid) for rid in render_ids], queue.purge_job_id(tenant_id)],
                      keep=current.id if current is not None else None)  # a running purge job removes itself


def _purge_files(tenant_id: str, export_files: list[str]) -> None:
    """The tenant's stored files (renders, exports), then what this machine holds of it."""
    get_store(Area.RENDERS).delete_prefix(prefix=tenant_prefix(tenant_id))
    exports = get_store(Area.EXPORTS)
    for name in export_files:
        exports.delete(key=name)
    settings = get_settings()
    for folder in (Path(settings.STORAGE_DIR) / tenant_id, Path(settings.USAGE_LOG_DIR) / tenant_id):
        shutil.rmtree(folder, ignore_errors=True)


def purge_tenant(*, session: Session, tenant_id: str) -> bool:
    """Delete a workspace and everything it owns in every store (idempotent; its running renders are
    stopped first, then Stripe, Redis and files, the database last). The members' accounts stay.

    Returns:
        False when the tenant no longer exists.
    """
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        return False
    render_ids = list(session.exec(select(Render.id).where(Render.tenant_id == tenant_id)).all())
    _stop_running_renders(render_ids)
    member_ids = list(session.exec(select(Membership.user_id).where(Membership.tenant_id == tenant_id)).all())
    sub = session.get(Subscription, tenant_id)
    _purge_stripe(tenant, sub.stripe_subscription_id if sub else None)
    session_ids = list(session.exec(select(AuthSession.id).where(AuthSession.tenant_id == tenant_id)).all())
    exports = list(session.exec(select(DataExport.filename).where(DataExport.tenant_id == tenant_id)).all())
    _purge_redis(tenant_id, member_ids, session_ids, render_ids)
    _purge_files(tenant_id, exports)
    session.exec(delete(RefreshToken).where(col(RefreshToken.session_id).in_(session_ids)))
    for table in reversed(SQLModel.metadata.sorted_tables):
        if "tenant_id" in table.c:  # memberships, invitations, sessions, renders, ledger, audit, keys, billing...
            session.exec(delete(table).where(table.c.tenant_id == tenant_id))
    session.exec(delete(Tenant).where(col(Tenant.id) == tenant_id))
    record_event(session=session, action="account.purged", ctx=RequestContext(), actor="system",
                 target=sha256_hex(tenant_id)[:16], details={"renders": len(render_ids), "members": len(member_ids)})
    return True


def _schedule_purge(tenant_id: str, when: datetime) -> None:
    queue.schedule_purge(queue.PURGE_JOB, tenant_id, queue.purge_job_id(tenant_id), when)


def reschedule_purges(*, session: Session) -> int:
    """Schedule again every pending deletion whose purge job is gone (Redis lost its data).

    Returns:
        How many purge jobs were scheduled again.
    """
    rescheduled = 0
    for row in session.exec(select(AccountDeletion)).all():
        if not queue.job_exists(queue.purge_job_id(row.tenant_id)):
            _schedule_purge(row.tenant_id, row.scheduled_for)
            rescheduled += 1
    return rescheduled


def purge_due_deletions(*, session: Session) -> int:
    """Purge every tenant whose grace period ended (scheduled sweep). Returns how many."""
    due = list(session.exec(select(AccountDeletion.tenant_id)
                            .where(col(AccountDeletion.scheduled_for) <= utcnow())).all())
    purged = 0
    for tenant_id in due:
        try:
            purge_tenant(session=session, tenant_id=tenant_id)
            session.commit()
            purged += 1
        except Exception:  # one failure (e.g. Stripe down) must not hold up the others; retried next sweep
            session.rollback()
            log.exception("purge of a tenant failed; the next sweep retries it")
    return purged
