"""GDPR data export (Art. 15/20): one machine-readable ZIP of a person's data in a workspace.

Per (person, workspace): what it holds depends on their role there (`export_contents`).
Requested at most once an hour, built by an RQ job, emailed to the requester only, and
downloadable for `EXPORT_TTL_HOURS` under an unguessable name by that person in that workspace.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import redis
from sqlmodel import Session, col, select

from saas_app import routes
from saas_app.models import (
    DataExport,
    Tenant,
    User,
    utcnow,
)
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.account.export_contents import write_zip
from saas_app.services.account.status import ExportStatus
from saas_app.services.account.views import ExportView
from saas_app.services.auth.sessions import Principal
from saas_app.services.core import queue
from saas_app.services.core.errors import ExportGone, NotFound, RateLimited, ServiceUnavailable
from saas_app.services.core.mail import send_email
from saas_app.services.core.storage import Area, Download, ObjectStore, get_store, scratch_file
from saas_app.services.teams.memberships import get_membership
from saas_app.settings import get_settings

log = logging.getLogger(__name__)
EXPORT_INTERVAL = timedelta(hours=1)
EXPORT_MEDIA_TYPE = "application/zip"
EXPORT_DOWNLOAD_PREFIX = "narrated-studio-export"


def export_download_name(created_at: datetime) -> str:
    """The name a browser saves an export as: the product and the export's date (UTC)."""
    return f"{EXPORT_DOWNLOAD_PREFIX}-{created_at:%Y-%m-%d}.zip"


def export_path(filename: str) -> Path:
    """Where an export ZIP is made on this machine (and kept, with the local storage backend)."""
    return Path(get_settings().EXPORT_DIR) / filename


def request_export(*, session: Session, principal: Principal, ctx: RequestContext) -> DataExport:
    """Record an export request and queue the job that builds it.

    Raises:
        RateLimited: An export was requested within the last hour (429).
        ServiceUnavailable: The job queue is down (nothing recorded).
    """
    last = session.exec(select(DataExport).where(DataExport.tenant_id == principal.tenant_id,
                                                 DataExport.user_id == principal.user_id)
                        .order_by(col(DataExport.created_at).desc())).first()
    if last is not None and utcnow() - last.created_at < EXPORT_INTERVAL:
        wait = int((last.created_at + EXPORT_INTERVAL - utcnow()).total_seconds()) + 1
        raise RateLimited("You can request one export per hour.",
                          retry_after=wait)
    row = DataExport(tenant_id=principal.tenant_id, user_id=principal.user_id,
                     filename=f"export-{secrets.token_urlsafe(24)}.zip")
    session.add(row)
    record_event(session=session, action="account.export_requested", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=row.id)
    session.commit()
    try:
        queue.get_queue(queue.DEFAULT).enqueue(queue.EXPORT_JOB, args=(row.id,), job_id=queue.export_job_id(row.id),
                                               job_timeout=1800, result_ttl=86400, failure_ttl=7 * 86400)
    except redis.RedisError as exc:
        session.delete(row)
        session.commit()
        raise ServiceUnavailable("Exports are briefly unavailable.", retry_after=60) from exc
    return row


def build_export(*, session: Session, export_id: str) -> DataExport:
    """Write the ZIP for an export, store it and email its owner. Called by the export job.

    Raises:
        NotFound: No such export waiting to be built.
        StorageUnavailable: The store could not be read or written (the job fails; request again).
    """
    row = session.get(DataExport, export_id)
    if row is None or row.status != ExportStatus.QUEUED:
        raise NotFound("No such pending export.")
    tenant, user = session.get(Tenant, row.tenant_id), session.get(User, row.user_id)
    membership = get_membership(session=session, tenant_id=row.tenant_id, user_id=row.user_id)
    if tenant is None or user is None or membership is None:  # they left or were removed meanwhile
        raise NotFound("The person who asked for this export is no longer a member of the workspace.")
    with scratch_file(export_path(row.filename).parent, row.filename) as tmp:
        write_zip(path=tmp, session=session, tenant=tenant, user=user, role=membership.role)
        size = tmp.stat().st_size
        _exports().put(key=row.filename, source=tmp, media_type=EXPORT_MEDIA_TYPE, move=True)
    row.status, row.ready_at = ExportStatus.READY, utcnow()
    row.expires_at = row.ready_at + timedelta(hours=get_settings().EXPORT_TTL_HOURS)
    row.size_bytes = size
    session.add(row)
    session.commit()
    link = routes.absolute(routes.export_download(row.filename))
    hours = get_settings().EXPORT_TTL_HOURS
    send_email(to=user.email, subject="Your data export is ready",
               text=f"Your export is ready. Download it within {hours} hours (sign in first):\n{link}\n",
               html=f"<p>Your export is ready. <a href=\"{link}\">Download it</a> within {hours} hours "
                    "(you may need to sign in first).</p>")
    return row


def _exports() -> ObjectStore:
    return get_store(Area.EXPORTS)


def get_export_file_or_raise(*, session: Session, tenant_id: str, user_id: str, filename: str) -> Download:
    """The ZIP behind a download link, for the person who asked, in that workspace only (saved as
    `export_download_name`).

    Raises:
        NotFound: Unknown, tampered, another person's or another workspace's link, or the file is gone (404).
        ExportGone: Expired (410).
        StorageUnavailable: The store cannot be asked (503).
    """
    row = session.exec(select(DataExport).where(DataExport.filename == filename)).first() if len(filename) < 100 \
        else None
    mine = row is not None and (row.tenant_id, row.user_id) == (tenant_id, user_id)
    if row is None or not mine or row.status not in (ExportStatus.READY, ExportStatus.EXPIRED):
        raise NotFound("We couldn't find that export.")
    if row.status == ExportStatus.EXPIRED or (row.expires_at is not None and utcnow() >= row.expires_at):
        raise ExportGone("This download link has expired. Request a new export on the account page.")
    download = _exports().download(key=row.filename, media_type=EXPORT_MEDIA_TYPE,
                                  filename=export_download_name(row.created_at))
    if download is None:
        raise NotFound("We couldn't find that export.")
    return download


def list_exports(*, session: Session, tenant_id: str, user_id: str, limit: int = 5) -> list[ExportView]:
    """The person's latest exports of the workspace, newest first, with download links while they are ready."""
    rows = session.exec(select(DataExport).where(DataExport.tenant_id == tenant_id, DataExport.user_id == user_id)
                        .order_by(col(DataExport.created_at).desc()).limit(limit)).all()
    return [ExportView.from_row(row) for row in rows]


def delete_expired_exports(*, session: Session) -> int:
    """Delete the files of expired exports and mark them expired (scheduled job). Returns how many.

    Raises:
        StorageUnavailable: The store could not delete them (the next sweep tries again).
    """
    rows = session.exec(select(DataExport).where(DataExport.status == ExportStatus.READY,
                                                 col(DataExport.expires_at) <= utcnow())).all()
    store = _exports()
    for row in rows:
        store.delete(key=row.filename)
        row.status = ExportStatus.EXPIRED
        session.add(row)
    return len(rows)
