"""Rebuild Redis usage counters from the SQL ledger: ``python -m saas_app.jobs.reconcile``.

Run it (``make reconcile``) after Redis lost data or whenever counters look wrong. It
recounts every tenant's month and storage from the ledger, restores the reservations of
unfinished renders, and queues again the renders whose jobs were lost.
"""

from __future__ import annotations

import argparse
import logging

from sqlmodel import select

from saas_app.db import session_scope
from saas_app.models import Tenant
from saas_app.services.renders import submission as renders
from saas_app.services.usage import quotas

log = logging.getLogger(__name__)


def reconcile(*, tenant_id: str | None = None) -> dict[str, int]:
    """Rebuild counters for one tenant (or all) and requeue orphaned renders.

    Returns:
        `{"tenants": n, "requeued": m}`.
    """
    with session_scope() as session:
        ids = [tenant_id] if tenant_id else list(session.exec(select(Tenant.id)).all())
        for tid in ids:
            quotas.rebuild_counters(session=session, tenant_id=tid, reset=True)
        requeued = renders.requeue_orphaned_renders(session=session)
    return {"tenants": len(ids), "requeued": requeued}


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", help="only this tenant id")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    result = reconcile(tenant_id=args.tenant)
    print(f"Rebuilt usage counters for {result['tenants']} tenant(s); requeued {result['requeued']} render(s).")


if __name__ == "__main__":
    main()
