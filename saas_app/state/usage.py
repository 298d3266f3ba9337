"""The usage banner shown on every signed-in page, and the tab's one live update stream.

While a tab shows a signed-in page, one background task (`watch`) follows its workspace's render
change counter (`services/renders/changes.py`: one Redis read every `LIVE_SECONDS`) and, when it
moves, reloads the banner and the page's own live part (the library's cards, a render's steps):
the state registered for the page's route with `live_page` says what to load and how to show it.
It stops after `IDLE_SECONDS` with no change; the next page load starts it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import reflex as rx

from saas_app import routes
from saas_app.services.auth.sessions import Principal
from saas_app.services.billing import checkout as billing
from saas_app.services.renders.changes import get_render_changes
from saas_app.services.usage import quotas
from saas_app.services.usage.views import UsageSummary
from saas_app.state.formatting import WARN_PERCENT, usage_rows
from saas_app.state.session import SessionState

log = logging.getLogger(__name__)
LIVE_SECONDS = 0.5  # how often a watching tab reads its workspace's change counter
IDLE_SECONDS = 300.0  # a tab whose workspace changed nothing for this long stops watching
RECHECK_SECONDS = 15.0  # how often a watching tab checks that its user is still signed in
S = TypeVar("S", bound="UsageState")
_LIVE_PAGES: dict[str, type[UsageState]] = {}


def live_page(route: str) -> Callable[[type[S]], type[S]]:
    """Class decorator: this state keeps the page at `route` live (`_live_args`, `_fetch_live`, `_show_live`)."""
    def register(cls: type[S]) -> type[S]:
        _LIVE_PAGES[route] = cls
        return cls

    return register


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
    remaining: dict[str, float] = {}  # what each limited metric has left this month (unlimited ones: absent)

    _watching: bool = False

    @rx.event
    async def load_usage(self):
        """on_load of every signed-in page: load the bars and keep the page live."""
        principal = await self._resolve_principal()
        if principal is None:
            return
        await self._refresh(principal)
        if not self._watching:
            return UsageState.watch

    def _live_args(self) -> dict[str, Any] | None:
        """What the live part of this page depends on (read under the lock); None: nothing to follow."""
        return None

    async def _fetch_live(self, principal: Principal, args: dict[str, Any]) -> Any:
        """Load the live part (unlocked: touch no state here)."""
        return None

    def _show_live(self, data: Any, args: dict[str, Any]) -> None:
        """Show what `_fetch_live` loaded (under the lock)."""

    async def _live_page(self) -> UsageState | None:
        cls = _LIVE_PAGES.get(self.router.page.path)
        return None if cls is None else await self.get_state(cls)

    async def _update_live(self, principal: Principal) -> None:
        """Reload the banner and the page's live part, reading unlocked and showing under the lock."""
        async with self:
            page = await self._live_page()
            args = page._live_args() if page is not None else None
        data = await page._fetch_live(principal, args) if page is not None and args is not None else None
        banner = await self._fetch_banner(principal)
        async with self:
            self._show_banner(banner)
            now = await self._live_page()
            if now is not None and args is not None and now._live_args() == args:
                now._show_live(data, args)

    @rx.event(background=True)
    async def watch(self):
        """Follow the workspace's render changes until nothing changed for `IDLE_SECONDS`."""
        async with self:
            if self._watching:
                return
            self._watching = True
        try:
            principal = await self._background_principal()
            seen, changed_at, checked_at = -1, time.monotonic(), time.monotonic()
            while principal is not None and time.monotonic() - changed_at < IDLE_SECONDS:
                changes = await asyncio.to_thread(get_render_changes, principal.tenant_id)
                if changes is not None and changes != seen:
                    await self._update_live(principal)
                    seen, changed_at = changes, time.monotonic()
                await asyncio.sleep(LIVE_SECONDS)
                if time.monotonic() - checked_at >= RECHECK_SECONDS:  # signed out meanwhile: stop
                    principal, checked_at = await self._background_principal(), time.monotonic()
        except Exception:  # a page must never break: the next page load starts watching again
            log.exception("live updates stopped")
        finally:
            async with self:
                self._watching = False

    async def _fetch_banner(self, principal: Principal) -> Banner | None:
        """The banner's data (no state is touched: background tasks call this unlocked); None when unavailable."""
        try:
            usage = await self._call(quotas.get_usage, principal=principal)
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
        self.remaining = {m: info.remaining for m, info in banner.usage.metrics.items() if info.remaining is not None}
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
