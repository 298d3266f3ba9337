"""Account routes: data export, deletion, API keys, sessions, backups, activity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from saas_app import routes
from saas_app.api.deps import Context, DbSession, UserPrincipal
from saas_app.models import iso_or_none
from saas_app.services.account import api_keys
from saas_app.services.account import audit
from saas_app.services.account import backups
from saas_app.services.account import deletion
from saas_app.services.account import exports
from saas_app.services.account.status import DeletionStatus, ExportStatus
from saas_app.services.account.sessions import describe_device, list_active_sessions, revoke_session

router = APIRouter(prefix="/api/account", tags=["account"])


class DeleteRequest(BaseModel):
    confirm_email: str = Field(max_length=320, description="The account's email, typed again to confirm.")


class KeyRequest(BaseModel):
    name: str = Field(max_length=80)


@router.post("/export", status_code=202)
def request_export(principal: UserPrincipal, session: DbSession, ctx: Context) -> dict:
    """Queue a ZIP of all your data; you get an email when it is ready (once an hour)."""
    row = exports.request_export(session=session, principal=principal, ctx=ctx)
    return {"id": row.id, "status": row.status}


@router.get("/exports")
def list_exports(principal: UserPrincipal, session: DbSession) -> dict:
    """Recent exports with their download links while valid."""
    rows = exports.list_exports(session=session, tenant_id=principal.tenant_id)
    return {"items": [{"id": r.id, "status": r.status, "created_at": iso_or_none(r.created_at),
                       "expires_at": iso_or_none(r.expires_at), "size_bytes": r.size_bytes,
                       "download_url": routes.export_download(r.filename) if r.status == ExportStatus.READY else None}
                      for r in rows]}


@router.get("/download-export/{filename}", response_class=FileResponse)
def download_export(filename: str, principal: UserPrincipal, session: DbSession) -> FileResponse:
    """The export ZIP (24 hours, this tenant only; 410 once expired)."""
    path = exports.get_export_file_or_raise(session=session, tenant_id=principal.tenant_id, filename=filename)
    return FileResponse(path, media_type="application/zip", filename="narrated-studio-export.zip")


@router.post("/delete", status_code=202)
def delete_account(body: DeleteRequest, principal: UserPrincipal, session: DbSession, ctx: Context) -> dict:
    """Schedule deletion of the workspace after the grace period (cancel any time before)."""
    row = deletion.schedule_deletion(session=session, principal=principal, confirm_email=body.confirm_email, ctx=ctx)
    return {"status": DeletionStatus.SCHEDULED, "scheduled_for": iso_or_none(row.scheduled_for)}


@router.post("/delete/cancel")
def cancel_deletion(principal: UserPrincipal, session: DbSession, ctx: Context) -> dict:
    """Cancel a scheduled deletion."""
    deletion.cancel_deletion(session=session, principal=principal, ctx=ctx)
    return {"status": DeletionStatus.CANCELED}


@router.get("/deletion")
def get_deletion(principal: UserPrincipal, session: DbSession) -> dict:
    """The pending deletion, if any."""
    row = deletion.get_deletion(session=session, tenant_id=principal.tenant_id)
    return {"scheduled_for": iso_or_none(row.scheduled_for) if row else None}


def _key_json(key: api_keys.NewKey) -> dict:
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "key": key.secret}


@router.post("/rotate-api-key")
def rotate_default_key(principal: UserPrincipal, session: DbSession, ctx: Context) -> dict:
    """Replace the default API key; the old one stops working at once. The new key is shown once."""
    return _key_json(api_keys.rotate_api_key(session=session, principal=principal, key_id=None, ctx=ctx))


@router.get("/api-keys")
def list_keys(principal: UserPrincipal, session: DbSession) -> dict:
    """Active keys: name, prefix, created, last used (never the secret)."""
    return {"items": [{"id": k.id, "name": k.name, "prefix": k.prefix, "is_default": k.is_default,
                       "created_at": iso_or_none(k.created_at), "last_used_at": iso_or_none(k.last_used_at)}
                      for k in api_keys.list_api_keys(session=session, tenant_id=principal.tenant_id)]}


@router.post("/api-keys", status_code=201)
def create_key(body: KeyRequest, principal: UserPrincipal, session: DbSession, ctx: Context) -> dict:
    """Create a named key (the secret is in this answer only)."""
    return _key_json(api_keys.create_api_key(session=session, principal=principal, name=body.name, ctx=ctx))


@router.post("/api-keys/{key_id}/rotate")
def rotate_key(key_id: str, principal: UserPrincipal, session: DbSession, ctx: Context) -> dict:
    """Replace a key with a new secret."""
    return _key_json(api_keys.rotate_api_key(session=session, principal=principal, key_id=key_id, ctx=ctx))


@router.delete("/api-keys/{key_id}")
def revoke_key(key_id: str, principal: UserPrincipal, session: DbSession, ctx: Context) -> dict:
    """Revoke a key at once."""
    api_keys.revoke_api_key(session=session, principal=principal, key_id=key_id, ctx=ctx)
    return {"id": key_id, "revoked": True}


@router.get("/sessions")
def sessions(principal: UserPrincipal, session: DbSession) -> dict:
    """Your signed-in devices."""
    return {"items": [{"id": s.id, "device": describe_device(s.user_agent), "ip": s.ip, "kind": s.kind,
                       "created_at": iso_or_none(s.created_at), "last_seen_at": iso_or_none(s.last_seen_at),
                       "current": s.id == principal.session_id}
                      for s in list_active_sessions(session=session, user_id=principal.user_id)]}


@router.delete("/sessions/{session_id}")
def end_session(session_id: str, principal: UserPrincipal, session: DbSession, ctx: Context) -> dict:
    """Sign one device out."""
    revoke_session(session=session, principal=principal, session_id=session_id, ctx=ctx)
    return {"id": session_id, "revoked": True}


@router.get("/backup-status")
def backup_status(principal: UserPrincipal) -> dict:
    """When the database was last backed up, when next, and how long backups are kept."""
    return backups.get_backup_status()


@router.get("/audit")
def audit_log(
    principal: UserPrincipal, session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    """Recent activity in this workspace, newest first."""
    rows, total = audit.list_events(session=session, tenant_id=principal.tenant_id, limit=limit, offset=offset)
    return {"items": [{"action": r.action, "actor": r.actor, "target": r.target, "ip": r.ip,
                       "request_id": r.request_id, "created_at": iso_or_none(r.created_at)} for r in rows],
            "total": total, "limit": limit, "offset": offset}
