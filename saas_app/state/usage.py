"""The usage banner shown on every signed-in page."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import reflex as rx

from saas_app import routes
from saas_app.services.auth.sessions import Principal
from saas_app.services.billing import checkout as billing
from saas_app.services.usage import quotas
from saas_app.services.usage.views import UsageSummary
from saas_app.state.formatting import WARN_PERCENT, usage_rows
from saas_app.state.session import SessionState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Banner:
    """What the banner shows: the month's usage and a failed-payment warning ("" when none)."""

    usage: UsageSummary
    payment_warning: str


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

    async def _fetch_banner(self, principal: Principal) -> Banner | None:
        """The banner's data (no state is touched: background tasks call this unlocked); None when unavailable."""
        try:
            usage = await self._call(quotas.get_usage_summary, tenant_id=principal.tenant_id, plan_id=principal.plan)
            warning = await self._call(billing.get_payment_warning, tenant_id=principal.tenant_id)
        except Exception as exc:  # Redis or database trouble must never break a page
            log.warning("usage banner unavailable: %s", exc)
            return None
        return Banner(usage=usage, payment_warning=warning)

    def _show_banner(self, banner: Banner | None) -> None:
        self.unavailable = banner is None
        if banner is None:
            return
        self.payment_warning = banner.payment_warning
        self.rows = usage_rows(banner.usage)
        full = [r["label"] for r in self.rows if float(r["percent"]) >= 100]
        near = [r["label"] for r in self.rows if WARN_PERCENT <= float(r["percent"]) < 100]
        if full:
            self.warning = f"You have used all of your {', '.join(full).lower()} for this month."
        elif near:
            self.warning = f"You have used 90% or more of your {', '.join(near).lower()} this month."
        else:
            self.warning = ""

    async def _refresh(self, principal: Principal) -> None:
        self._show_banner(await self._fetch_banner(principal))
