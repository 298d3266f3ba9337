"""Account routes: data export, workspace deletion, account (person) deletion, API keys, sessions, backups, activity."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from saas_app.api.capacity import ApiRoute
from saas_app.api.deps import Context, DbSession, UserPrincipal
from saas_app.api.errors import AUTH, BODY, errors
from saas_app.api.files import FileAnswer, file_responses, send_download
from saas_app.api.params import PageLimit, PageOffset, PathId
from saas_app.api.schemas import DeletionCanceled, DeletionScheduled, ExportQueued, Revoked
from saas_app.services.account import api_keys, audit, backups, deletion, exports, user_deletion
from saas_app.services.account.sessions import list_active_sessions, revoke_session
from saas_app.services.account.user_deletion import UserDeletionView
from saas_app.services.account.views import (
    ApiKeyList,
    AuditPage,
    BackupStatus,
    DeletionView,
    ExportList,
    NewKey,
    SessionList,
)
from saas_app.services.core.validation import UserText

router = APIRouter(route_class=ApiRoute, prefix="/api/account", tags=["account"])


class DeleteRequest(BaseModel):
    confirm_email: str = Field(max_length=320, description="The account's email, typed again to confirm.")


class KeyRequest(BaseModel):
    name: UserText = Field(max_length=80)


@router.post("/export", status_code=202, response_model=ExportQueued, responses=errors(*AUTH, 429, 503))
def request_export(principal: UserPrincipal, session: DbSession, ctx: Context) -> ExportQueued:
    """Queue a ZIP of your data in this workspace (what your role may see); emailed to you when ready (once an hour)."""
    row = exports.request_export(session=session, principal=principal, ctx=ctx)
    return ExportQueued(id=row.id, status=row.status)


@router.get("/exports", response_model=ExportList, responses=errors(*AUTH))
def list_exports(principal: UserPrincipal, session: DbSession) -> ExportList:
    """Recent exports with their download links while valid."""
    return ExportList(items=exports.list_exports(session=session, tenant_id=principal.tenant_id,
                                                 user_id=principal.user_id))


@router.get("/download-export/{filename}", response_class=FileAnswer,
            responses=file_responses("application/zip", *AUTH, 404, 410, 422))
def download_export(filename: PathId, principal: UserPrincipal, session: DbSession) -> Response:
    """The export ZIP (24 hours, for the person who asked, in this workspace only; 410 once expired)."""
    return send_download(exports.get_export_file_or_raise(session=session, tenant_id=principal.tenant_id,
                                                          user_id=principal.user_id, filename=filename))


@router.post("/delete", status_code=202, response_model=DeletionScheduled,
             responses=errors(*AUTH, *BODY, 503))
def delete_account(body: DeleteRequest, principal: UserPrincipal, session: DbSession,
                   ctx: Context) -> DeletionScheduled:
    """Schedule deletion of the WORKSPACE after the grace period (owners only; cancel any time before).

    Its members' accounts stay; deleting your own account is `POST /api/account/user-deletion`."""
    row = deletion.schedule_deletion(session=session, principal=principal, confirm_email=body.confirm_email, ctx=ctx)
    return DeletionScheduled(scheduled_for=row.scheduled_for)


@router.post("/delete/cancel", response_model=DeletionCanceled, responses=errors(*AUTH, 404))
def cancel_deletion(principal: UserPrincipal, session: DbSession, ctx: Context) -> DeletionCanceled:
    """Cancel a scheduled deletion."""
    deletion.cancel_deletion(session=session, principal=principal, ctx=ctx)
    return DeletionCanceled()


@router.get("/deletion", response_model=DeletionView, responses=errors(*AUTH))
def get_deletion(principal: UserPrincipal, session: DbSession) -> DeletionView:
    """The pending deletion, if any."""
    return DeletionView.from_row(deletion.get_deletion(session=session, tenant_id=principal.tenant_id))


@router.get("/user-deletion", response_model=UserDeletionView, responses=errors(*AUTH))
def get_user_deletion(principal: UserPrincipal, session: DbSession) -> UserDeletionView:
    """Your pending account deletion, if any, and the workspaces you must hand over or delete first."""
    return user_deletion.get_user_deletion_view(session=session, user_id=principal.user_id)


@router.post("/user-deletion", status_code=202, response_model=DeletionScheduled,
             responses=errors(*AUTH, *BODY, 409, 503))
def delete_my_account(body: DeleteRequest, principal: UserPrincipal, session: DbSession,
                      ctx: Context) -> DeletionScheduled:
    """Schedule deletion of YOUR account (any role) after the grace period; 409 names the workspaces you are
    the only owner of while others use them (hand them over or delete them first)."""
    row = user_deletion.schedule_user_deletion(session=session, principal=principal,
                                               confirm_email=body.confirm_email, ctx=ctx)
    return DeletionScheduled(scheduled_for=row.scheduled_for)


@router.delete("/user-deletion", response_model=DeletionCanceled, responses=errors(*AUTH, 404))
def cancel_my_account_deletion(principal: UserPrincipal, session: DbSession, ctx: Context) -> DeletionCanceled:
    """Cancel your scheduled account deletion."""
    user_deletion.cancel_user_deletion(session=session, principal=principal, ctx=ctx)
    return DeletionCanceled()


@router.post("/rotate-api-key", response_model=NewKey, responses=errors(*AUTH))
def rotate_default_key(principal: UserPrincipal, session: DbSession, ctx: Context) -> NewKey:
    """Replace the default API key; the old one stops working at once. The new key is shown once."""
    return api_keys.rotate_api_key(session=session, principal=principal, key_id=None, ctx=ctx)


@router.get("/api-keys", response_model=ApiKeyList, responses=errors(*AUTH))
def list_keys(principal: UserPrincipal, session: DbSession) -> ApiKeyList:
    """Active keys: name, prefix, created, last used (never the secret)."""
    return ApiKeyList(items=api_keys.list_api_keys(session=session, principal=principal))


@router.post("/api-keys", status_code=201, response_model=NewKey, responses=errors(*AUTH, *BODY))
def create_key(body: KeyRequest, principal: UserPrincipal, session: DbSession, ctx: Context) -> NewKey:
    """Create a named key (the secret is in this answer only)."""
    return api_keys.create_api_key(session=session, principal=principal, name=body.name, ctx=ctx)


@router.post("/api-keys/{key_id}/rotate", response_model=NewKey, responses=errors(*AUTH, 404, 422))
def rotate_key(key_id: PathId, principal: UserPrincipal, session: DbSession, ctx: Context) -> NewKey:
    """Replace a key with a new secret."""
    return api_keys.rotate_api_key(session=session, principal=principal, key_id=key_id, ctx=ctx)


@router.delete("/api-keys/{key_id}", response_model=Revoked, responses=errors(*AUTH, 404, 422))
def revoke_key(key_id: PathId, principal: UserPrincipal, session: DbSession, ctx: Context) -> Revoked:
    """Revoke a key at once."""
    api_keys.revoke_api_key(session=session, principal=principal, key_id=key_id, ctx=ctx)
    return Revoked(id=key_id)


@router.get("/sessions", response_model=SessionList, responses=errors(*AUTH))
def sessions(principal: UserPrincipal, session: DbSession) -> SessionList:
    """Your signed-in devices."""
    return SessionList(items=list_active_sessions(session=session, principal=principal))


@router.delete("/sessions/{session_id}", response_model=Revoked, responses=errors(*AUTH, 404, 422))
def end_session(session_id: PathId, principal: UserPrincipal, session: DbSession, ctx: Context) -> Revoked:
    """Sign one device out."""
    revoke_session(session=session, principal=principal, session_id=session_id, ctx=ctx)
    return Revoked(id=session_id)


@router.get("/backup-status", response_model=BackupStatus, responses=errors(*AUTH))
def backup_status(principal: UserPrincipal) -> BackupStatus:
    """When the database was last backed up, when next, and how long backups are kept."""
    return backups.get_backup_status(principal=principal)


@router.get("/audit", response_model=AuditPage, responses=errors(*AUTH, 422))
def audit_log(
    principal: UserPrincipal, session: DbSession,
    limit: PageLimit = 20, offset: PageOffset = 0,
) -> AuditPage:
    """Recent activity in this workspace, newest first."""
    return audit.list_event_page(session=session, principal=principal, limit=limit, offset=offset)
