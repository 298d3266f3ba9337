"""Deleting one person's account (GDPR Art. 17), as opposed to a whole workspace (`deletion`).

Scheduled with the same grace period as a workspace deletion, with an email holding the cancel
link, then purged by a job (or the maintenance sweep). A person who is the only owner of a
workspace that has other members must first hand it over (make someone else an owner on the
Team page) or delete it: until then the deletion is refused (409), and a purge that finds them
in that position is skipped and they are told. What the purge removes is `user_purge`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlmodel import Session, col, select

from saas_app import routes
from saas_app.models import UserDeletion, utcnow
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.account.owned_workspaces import (
    SOLE_OWNER,
    BlockingWorkspace,
    blocking_message,
    get_blocking_workspaces,
)
from saas_app.services.account.user_purge import UserPurge, purge_user
from saas_app.services.auth.sessions import Principal
from saas_app.services.core import queue
from saas_app.services.core.errors import Conflict, InvalidInput, NotFound
from saas_app.services.core.mail import send_email
from saas_app.services.core.views import IsoDatetime, View
from saas_app.settings import get_settings

__all__ = ["BlockingWorkspace", "UserDeletionView", "UserPurge", "cancel_user_deletion", "get_blocking_workspaces",
           "get_user_deletion", "get_user_deletion_view", "purge_due_user_deletions", "purge_user",
           "reschedule_user_purges", "schedule_user_deletion"]

log = logging.getLogger(__name__)


class UserDeletionView(View):
    """The person's pending account deletion (None: nothing scheduled) and what stands in its way."""

    scheduled_for: IsoDatetime | None
    blocking_workspaces: list[BlockingWorkspace]


def get_user_deletion(*, session: Session, user_id: str) -> UserDeletion | None:
    """The person's pending account deletion, if any."""
    return session.get(UserDeletion, user_id)


def get_user_deletion_view(*, session: Session, user_id: str) -> UserDeletionView:
    """The pending deletion (if any) and the workspaces to hand over or delete first."""
    row = get_user_deletion(session=session, user_id=user_id)
    return UserDeletionView(scheduled_for=row.scheduled_for if row else None,
                            blocking_workspaces=get_blocking_workspaces(session=session, user_id=user_id))


def schedule_user_deletion(*, session: Session, principal: Principal, confirm_email: str,
                           ctx: RequestContext) -> UserDeletion:
    """Schedule the caller's account deletion after `DELETION_GRACE_HOURS` and email a cancel link.

    Any role may delete their own account.

    Raises:
        InvalidInput: The typed email is not the account's (422).
        Conflict: They are the only owner of a workspace others use (409, naming it; code `sole_owner`).
    """
    if (confirm_email or "").strip().lower() != principal.email.lower():
        raise InvalidInput("Type your account email exactly to confirm.", field="confirm_email")
    blocking = get_blocking_workspaces(session=session, user_id=principal.user_id)
    if blocking:
        raise Conflict(blocking_message(blocking), code=SOLE_OWNER)
    when = utcnow() + timedelta(hours=get_settings().DELETION_GRACE_HOURS)
    row = session.get(UserDeletion, principal.user_id) or UserDeletion(user_id=principal.user_id, scheduled_for=when)
    row.scheduled_for, row.requested_at = when, utcnow()
    session.add(row)
    record_event(session=session, action="account.user_deletion_scheduled", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, details={"scheduled_for": when.isoformat()})
    session.commit()
    try:
        _schedule_user_purge(principal.user_id, when)
    except redis.RedisError as exc:  # the maintenance sweep purges due deletions anyway
        log.warning("could not schedule user purge job: %s", exc)
    link, stamp = routes.absolute(routes.ACCOUNT), when.strftime("%d %b %Y %H:%M UTC")
    send_email(to=principal.email, subject="Your account will be deleted",
               text=f"Your account ({principal.email}) will be deleted on {stamp}: your sign-in, your place in "
                    "every workspace, and the workspaces where you are the only member. Videos you made in "
                    "shared workspaces stay with those workspaces.\n"
                    f"Changed your mind? Cancel the deletion here before then:\n{link}\n",
               html=f"<p>Your account ({principal.email}) will be deleted on <b>{stamp}</b>: your sign-in, your "
                    "place in every workspace, and the workspaces where you are the only member. Videos you made "
                    "in shared workspaces stay with those workspaces.</p>"
                    f"<p>Changed your mind? <a href=\"{link}\">Cancel the deletion</a> before then.</p>")
    return row


def cancel_user_deletion(*, session: Session, principal: Principal, ctx: RequestContext) -> None:
    """Cancel the caller's pending account deletion; nothing is lost.

    Raises:
        NotFound: No account deletion is pending.
    """
    row = session.get(UserDeletion, principal.user_id)
    if row is None:
        raise NotFound("No deletion is scheduled for your account.")
    session.delete(row)
    record_event(session=session, action="account.user_deletion_canceled", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name)
    try:
        Job.fetch(queue.user_purge_job_id(principal.user_id), connection=queue.get_rq_connection()).cancel()
    except (NoSuchJobError, redis.RedisError) as exc:
        log.info("no user purge job to cancel: %s", exc)


def _schedule_user_purge(user_id: str, when: datetime) -> None:
    queue.schedule_purge(queue.USER_PURGE_JOB, user_id, queue.user_purge_job_id(user_id), when)


def reschedule_user_purges(*, session: Session) -> int:
    """Schedule again every pending account deletion whose purge job is gone (Redis lost its data).

    Returns:
        How many purge jobs were scheduled again.
    """
    rescheduled = 0
    for row in session.exec(select(UserDeletion)).all():
        if not queue.job_exists(queue.user_purge_job_id(row.user_id)):
            _schedule_user_purge(row.user_id, row.scheduled_for)
            rescheduled += 1
    return rescheduled


def purge_due_user_deletions(*, session: Session) -> int:
    """Purge every account whose grace period ended (scheduled sweep). Returns how many were purged."""
    due = list(session.exec(select(UserDeletion.user_id)
                            .where(col(UserDeletion.scheduled_for) <= utcnow())).all())
    purged = 0
    for user_id in due:
        try:
            outcome = purge_user(session=session, user_id=user_id)
            session.commit()
            purged += outcome == UserPurge.PURGED
        except Exception:  # one failure must not hold up the others; retried next sweep
            session.rollback()
            log.exception("purge of an account failed; the next sweep retries it")
    return purged


def is_user_deletion_due(*, session: Session, user_id: str) -> bool:
    """Whether the person's account deletion is pending and its grace period has ended."""
    row = session.get(UserDeletion, user_id)
    return row is not None and row.scheduled_for <= utcnow()

