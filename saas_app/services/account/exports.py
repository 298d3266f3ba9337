"""GDPR data export (Art. 15/20): one machine-readable ZIP of everything a tenant owns.

Requested at most once an hour per tenant, built by an RQ job, emailed when ready, and
downloadable for `EXPORT_TTL_HOURS` under an unguessable name by that tenant only.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import redis
from sqlmodel import Session, col, select

from saas_app import routes
from saas_app.models import (
    Asset,
    AuditLog,
    DataExport,
    Render,
    Subscription,
    Tenant,
    UsageRecord,
    User,
    iso_or_none,
    utcnow,
)
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.account.status import ExportStatus
from saas_app.services.account.views import ExportView
from saas_app.services.assets import library
from saas_app.services.auth.sessions import Principal
from saas_app.services.core import queue
from saas_app.services.core.errors import ExportGone, NotFound, RateLimited, ServiceUnavailable
from saas_app.services.core.mail import send_email
from saas_app.services.core.storage import Area, Download, ObjectStore, get_store, scratch_file
from saas_app.services.renders.files import render_key
from saas_app.services.renders.steps.registry import kept_files
from saas_app.services.teams.memberships import get_membership
from saas_app.services.usage.metrics import METRICS
from saas_app.settings import get_settings

log = logging.getLogger(__name__)
EXPORT_INTERVAL = timedelta(hours=1)
README = """Your Narrated Studio data export
================================

Every file is machine-readable (JSON, or JSON Lines: one JSON object per line).

profile.json   You: user id, email, role, when you joined and last signed in.
tenant.json    Your workspace: id, name, plan, when it was created.
usage.jsonl    The usage ledger: one line per metered step (metric, amount, month, time).
audit.json     The audit log of your workspace: who did what, when, from where.
renders.json   Every video's metadata: topic, scenes, template, voice, status, times.
renders/       The video files themselves: renders/<id>/{files}.
assets.json    Your asset library: the images and music you uploaded (name, type, size, focal point).
assets/        The uploaded files themselves (images as stored: without their metadata).
billing.json   Your plan and subscription as known to us (Stripe ids, status, renewal).
README.txt     This file.

The metrics in usage.jsonl:
{metrics}
"""


def _in_words(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def readme() -> str:
    """The export's README.txt: what each file holds, the files kept per video, the metrics' units."""
    width = max(len(m.name) for m in METRICS) + 2
    metrics = "\n".join(f"{m.name.ljust(width)} {m.label} ({m.unit.name}"
                         f"{', a level' if m.gauge else ', per month'})" for m in METRICS)
    return README.format(files=_in_words([kept.filename for kept in kept_files()]), metrics=metrics)


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
    last = session.exec(select(DataExport).where(DataExport.tenant_id == principal.tenant_id)
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


def _role_in(session: Session, tenant_id: str, user_id: str) -> str:
    membership = get_membership(session=session, tenant_id=tenant_id, user_id=user_id)
    return membership.role if membership else ""


def _documents(session: Session, tenant: Tenant, user: User) -> dict[str, object]:
    renders = session.exec(select(Render).where(Render.tenant_id == tenant.id)).all()
    sub = session.get(Subscription, tenant.id)
    audit = session.exec(select(AuditLog).where(AuditLog.tenant_id == tenant.id).order_by(col(AuditLog.id))).all()
    return {
        "profile.json": {"user_id": user.id, "email": user.email, "role": _role_in(session, tenant.id, user.id),
                         "created_at": iso_or_none(user.created_at), "last_login_at": iso_or_none(user.last_login_at)},
        "tenant.json": {"tenant_id": tenant.id, "name": tenant.name, "plan": tenant.plan,
                        "created_at": iso_or_none(tenant.created_at)},
        "renders.json": [{"id": r.id, "topic": r.topic, "scenes": json.loads(r.scenes_json), "template": r.template,
                          "voice": r.voice, "resolution": r.resolution, "status": r.status, "error": r.error,
                          "duration_seconds": r.duration_seconds, "created_at": iso_or_none(r.created_at),
                          "finished_at": iso_or_none(r.finished_at), "deleted": r.deleted_at is not None}
                         for r in renders],
        "audit.json": [{"action": a.action, "actor": a.actor, "target": a.target, "ip": a.ip,
                        "user_agent": a.user_agent, "request_id": a.request_id, "created_at": iso_or_none(a.created_at),
                        "details": json.loads(a.details or "{}")} for a in audit],
        "billing.json": {"plan": tenant.plan, "stripe_customer_id": tenant.stripe_customer_id,
                         "subscription": None if sub is None else {
                             "id": sub.stripe_subscription_id, "plan": sub.plan, "status": sub.status,
                             "current_period_end": iso_or_none(sub.current_period_end),
                             "cancel_at_period_end": sub.cancel_at_period_end},
                         "invoices": []},
    }


def _add_render_files(zf: zipfile.ZipFile, session: Session, tenant_id: str) -> None:
    """Copy every kept file of the tenant's renders from the store into the ZIP."""
    store = get_store(Area.RENDERS)
    for render in session.exec(select(Render).where(Render.tenant_id == tenant_id,
                                                    col(Render.deleted_at).is_(None))).all():
        for kept in kept_files():
            try:
                with store.open(key=render_key(tenant_id, render.id, kept.filename)) as source, \
                        zf.open(f"renders/{render.id}/{kept.filename}", "w", force_zip64=True) as target:
                    shutil.copyfileobj(source, target, 1024 * 1024)
            except FileNotFoundError:
                continue


def _add_assets(zf: zipfile.ZipFile, session: Session, tenant_id: str) -> None:
    """The asset library's list and files."""
    store, assets = get_store(Area.RENDERS), session.exec(select(Asset).where(Asset.tenant_id == tenant_id)).all()
    zf.writestr("assets.json", json.dumps([library.view(a).model_dump() for a in assets], indent=2, sort_keys=True))
    for asset in assets:
        try:
            with store.open(key=library.asset_key(tenant_id, asset.filename)) as source, \
                    zf.open(f"assets/{asset.filename}", "w", force_zip64=True) as target:
                shutil.copyfileobj(source, target, 1024 * 1024)
        except FileNotFoundError:
            continue


def _write_zip(path: Path, session: Session, tenant: Tenant, user: User) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, doc in _documents(session, tenant, user).items():
            zf.writestr(name, json.dumps(doc, indent=2, sort_keys=True))
        ledger = session.exec(select(UsageRecord).where(UsageRecord.tenant_id == tenant.id)
                              .order_by(col(UsageRecord.id))).all()
        zf.writestr("usage.jsonl", "".join(json.dumps({
            "event_key": u.event_key, "metric": u.metric, "amount": u.amount, "period": u.period,
            "render_id": u.render_id, "created_at": iso_or_none(u.created_at)}, sort_keys=True) + "\n" for u in ledger))
        _add_render_files(zf, session, tenant.id)
        _add_assets(zf, session, tenant.id)
        zf.writestr("README.txt", readme())


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
    assert tenant is not None and user is not None
    with scratch_file(export_path(row.filename).parent, row.filename) as tmp:
        _write_zip(tmp, session, tenant, user)
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


def get_export_file_or_raise(*, session: Session, tenant_id: str, filename: str) -> Download:
    """The ZIP behind a download link, for its own tenant only (saved as `export_download_name`).

    Raises:
        NotFound: Unknown, tampered or another tenant's link, or the file is gone (404).
        ExportGone: Expired (410).
        StorageUnavailable: The store cannot be asked (503).
    """
    row = session.exec(select(DataExport).where(DataExport.filename == filename)).first() if len(filename) < 100 \
        else None
    if row is None or row.tenant_id != tenant_id or row.status not in (ExportStatus.READY, ExportStatus.EXPIRED):
        raise NotFound("We couldn't find that export.")
    if row.status == ExportStatus.EXPIRED or (row.expires_at is not None and utcnow() >= row.expires_at):
        raise ExportGone("This download link has expired. Request a new export on the account page.")
    download = _exports().download(key=row.filename, media_type=EXPORT_MEDIA_TYPE,
                                  filename=export_download_name(row.created_at))
    if download is None:
        raise NotFound("We couldn't find that export.")
    return download


def list_exports(*, session: Session, tenant_id: str, limit: int = 5) -> list[ExportView]:
    """The tenant's latest exports, newest first, with download links while they are ready."""
    rows = session.exec(select(DataExport).where(DataExport.tenant_id == tenant_id)
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
