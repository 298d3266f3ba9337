"""Typed views of the account: API keys, signed-in devices, activity, exports, deletion, backups."""

from __future__ import annotations

from saas_app import routes
from saas_app.models import AccountDeletion, AuditLog, DataExport
from saas_app.services.account.activity import describe_event
from saas_app.services.account.status import ExportStatus
from saas_app.services.core.views import IsoDatetime, View


class ApiKeyView(View):
    """An active API key as listed: never the secret, only its prefix."""

    id: str
    name: str
    prefix: str
    is_default: bool
    created_at: IsoDatetime
    last_used_at: IsoDatetime | None


class ApiKeyList(View):
    """The tenant's active keys, newest first."""

    items: list[ApiKeyView]


class NewKey(View):
    """A freshly made key: `key` is the secret, shown to the user once and never again."""

    id: str
    name: str
    prefix: str
    key: str


class SessionView(View):
    """A signed-in device; `current` marks the caller's own session."""

    id: str
    device: str
    ip: str
    kind: str
    created_at: IsoDatetime
    last_seen_at: IsoDatetime
    current: bool


class SessionList(View):
    """The user's active sessions, most recently seen first."""

    items: list[SessionView]


class AuditEventView(View):
    """One row of the workspace's activity log."""

    action: str
    summary: str
    actor: str
    target: str
    ip: str
    request_id: str
    created_at: IsoDatetime

    @classmethod
    def from_row(cls, row: AuditLog) -> AuditEventView:
        """The view of an audit row, with its action told as a sentence (`summary`)."""
        return cls(action=row.action, summary=describe_event(row), actor=row.actor, target=row.target, ip=row.ip,
                   request_id=row.request_id, created_at=row.created_at)


class AuditPage(View):
    """A page of the activity log, newest first, with the total count."""

    items: list[AuditEventView]
    total: int
    limit: int
    offset: int


class ExportView(View):
    """A data export; `download_url` is set while it is ready to download."""

    id: str
    status: str
    created_at: IsoDatetime
    expires_at: IsoDatetime | None
    size_bytes: int
    download_url: str | None

    @classmethod
    def from_row(cls, row: DataExport) -> ExportView:
        """The view of an export row."""
        url = routes.export_download(row.filename) if row.status == ExportStatus.READY else None
        return cls(id=row.id, status=row.status, created_at=row.created_at, expires_at=row.expires_at,
                   size_bytes=row.size_bytes, download_url=url)


class ExportList(View):
    """The tenant's latest exports, newest first."""

    items: list[ExportView]


class DeletionView(View):
    """The pending deletion of the workspace: when it happens, or None when none is scheduled."""

    scheduled_for: IsoDatetime | None

    @classmethod
    def from_row(cls, row: AccountDeletion | None) -> DeletionView:
        """The view of the tenant's deletion row (None: nothing scheduled)."""
        return cls(scheduled_for=row.scheduled_for if row else None)


class BackupStatus(View):
    """When the database was last backed up, when it will be next, and for how many days backups are kept."""

    last_backup_at: IsoDatetime | None
    next_backup_at: IsoDatetime
    retention_days: int
