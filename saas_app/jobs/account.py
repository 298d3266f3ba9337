"""RQ adapters for the account: export building, workspace purge and account (person) purge."""

from __future__ import annotations

import logging

from saas_app.db import session_scope
from saas_app.models import DataExport, utcnow
from saas_app.services.account import deletion, exports, user_deletion
from saas_app.services.account.status import ExportStatus
from saas_app.services.core import observability
from saas_app.services.core.outcomes import Outcome

log = logging.getLogger(__name__)


def build_export_job(export_id: str) -> str:
    """Build one export ZIP and email its owner; a failure marks the export failed.

    Args:
        export_id: The `DataExport` row to build.

    Returns:
        The export's final status.
    """
    try:
        with session_scope() as session:
            status = exports.build_export(session=session, export_id=export_id).status
        observability.count_account_job(kind="export", outcome=Outcome.SUCCEEDED)
        return status
    except Exception:
        observability.count_account_job(kind="export", outcome=Outcome.FAILED)
        log.exception("export %s failed", export_id)
        with session_scope() as session:
            row = session.get(DataExport, export_id)
            if row is not None and row.status == ExportStatus.QUEUED:
                row.status = ExportStatus.FAILED
                session.add(row)
        raise


def purge_tenant_job(tenant_id: str) -> bool:
    """Purge a tenant whose deletion is due (does nothing if it was canceled meanwhile).

    Args:
        tenant_id: The tenant scheduled for deletion.

    Returns:
        Whether anything was purged.
    """
    try:
        with session_scope() as session:
            pending = deletion.get_deletion(session=session, tenant_id=tenant_id)
            if pending is None or pending.scheduled_for > utcnow():
                observability.count_account_job(kind="deletion", outcome=Outcome.SKIPPED)
                return False
            purged = deletion.purge_tenant(session=session, tenant_id=tenant_id)
    except Exception:
        observability.count_account_job(kind="deletion", outcome=Outcome.FAILED)
        raise
    observability.count_account_job(kind="deletion", outcome=Outcome.SUCCEEDED if purged else Outcome.SKIPPED)
    return purged


def purge_user_job(user_id: str) -> str:
    """Purge a person's account whose deletion is due (does nothing if it was canceled meanwhile).

    Args:
        user_id: The person scheduled for deletion.

    Returns:
        What was done: `purged`, `blocked` (they are the only owner of a shared workspace; told by
        email), `gone`, or `skipped` (canceled or not due yet).
    """
    try:
        with session_scope() as session:
            if not user_deletion.is_user_deletion_due(session=session, user_id=user_id):
                observability.count_account_job(kind="user_deletion", outcome=Outcome.SKIPPED)
                return "skipped"
            outcome = user_deletion.purge_user(session=session, user_id=user_id)
    except Exception:
        observability.count_account_job(kind="user_deletion", outcome=Outcome.FAILED)
        raise
    observability.count_account_job(kind="user_deletion", outcome=Outcome.SUCCEEDED
                                    if outcome == user_deletion.UserPurge.PURGED else Outcome.SKIPPED)
    return outcome.value
