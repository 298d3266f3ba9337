"""The usage banner shown on every signed-in page."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from saas_app import routes
from saas_app.db import session_scope
from saas_app.services.billing import checkout as billing
from saas_app.services.usage import quotas
from saas_app.services.auth.sessions import Principal
from saas_app.state.formatting import WARN_PERCENT, usage_rows
from saas_app.state.session import SessionState

log = logging.getLogger(__name__)


def _summary(principal: Principal) -> tuple[dict, str]:
    with session_scope() as session:
        usage = quotas.get_usage_summary(session=session, tenant_id=principal.tenant_id, plan_id=principal.plan)
        return usage, billing.get_payment_warning(session=session, tenant_id=principal.tenant_id)


class UsageState(SessionState):
    """This month's usage bars, the near-limit warning and the upgrade link."""

    rows: list[dict[str, str]] = []
    warning: str = ""
    payment_warning: str = ""
    unavailable: bool = False
    upgrade_path: str = routes.BILLING

    @rx.event
    async def load_usage(self):
        """Load (or refresh) the bars."""
        principal = await self._resolve_principal()
        if principal is None:
            return
        await self._refresh(principal)

    async def _refresh(self, principal: Principal) -> None:
        try:
            summary, self.payment_warning = await asyncio.to_thread(_summary, principal)
        except Exception as exc:  # Redis or database trouble must never break a page
            log.warning("usage banner unavailable: %s", exc)
            self.unavailable = True
            return
        self.unavailable = False
        self.rows = usage_rows(summary)
        full = [r["label"] for r in self.rows if float(r["percent"]) >= 100]
        near = [r["label"] for r in self.rows if WARN_PERCENT <= float(r["percent"]) < 100]
        if full:
            self.warning = f"You have used all of your {', '.join(full).lower()} for this month."
        elif near:
            self.warning = f"You have used 90% or more of your {', '.join(near).lower()} this month."
        else:
            self.warning = ""
