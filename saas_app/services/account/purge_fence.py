"""The purge fence: once a tenant's deletion is due, nothing more is written for it.

A render that is running (or starts) while the purge runs must not leave files, ledger rows,
usage-log lines or Redis counters behind it. The purge stops the tenant's running jobs and
waits for them (`deletion.purge_tenant`); the render pipeline also checks this fence before
each of its writes, which covers a job that starts or ends in between.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from saas_app.models import AccountDeletion, Tenant, utcnow


def is_fenced(*, session: Session, tenant_id: str) -> bool:
    """Whether nothing more may be written for the tenant: its deletion is due, or it is gone."""
    if session.get(Tenant, tenant_id) is None:
        return True
    due = select(AccountDeletion.tenant_id).where(AccountDeletion.tenant_id == tenant_id,
                                                  col(AccountDeletion.scheduled_for) <= utcnow())
    return session.exec(due).first() is not None
