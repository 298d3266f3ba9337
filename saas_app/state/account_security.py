"""Account page, security: sessions, backups and recent activity (paginated)."""

from __future__ import annotations

import asyncio

import reflex as rx

from saas_app.services.account import audit, backups
from saas_app.services.account.sessions import list_active_sessions, revoke_session
from saas_app.services.auth.sessions import Principal
from saas_app.services.teams.permissions import Action, can
from saas_app.state.formatting import format_date
from saas_app.state.usage import UsageState

ACTIVITY_PAGE = 10


class AccountSecurityState(UsageState):
    """Sessions, backup status and the activity log."""

    sessions: list[dict[str, str]] = []
    session_message: str = ""
    backup_line: str = ""
    activity: list[dict[str, str]] = []
    activity_page: int = 0
    activity_total: int = 0
    can_view_activity: bool = False

    @rx.var
    def activity_pages(self) -> int:
        """How many activity pages there are."""
        return max(1, -(-self.activity_total // ACTIVITY_PAGE))

    async def _reload(self, principal: Principal) -> None:
        devices = await self._call(list_active_sessions, principal=principal)
        self.sessions = [{"id": s.id, "device": s.device, "ip": s.ip or "unknown",
                          "last_seen": format_date(s.last_seen_at), "last_seen_iso": s.last_seen_at.isoformat(),
                          "kind": s.kind,
                          "current": "yes" if s.current else ""} for s in devices]
        self.can_view_activity = can(principal.role, Action.AUDIT_VIEW)
        self.activity, self.activity_total = [], 0
        if self.can_view_activity:
            page = await self._call(audit.list_event_page, principal=principal, limit=ACTIVITY_PAGE,
                                    offset=self.activity_page * ACTIVITY_PAGE)
            self.activity = [{"when": format_date(e.created_at), "iso": e.created_at.isoformat(),
                              "summary": e.summary, "actor": e.actor or "system", "ip": e.ip or "—"}
                             for e in page.items]
            self.activity_total = page.total
        self.backup_line = ""
        if can(principal.role, Action.BACKUPS_VIEW):
            status = await asyncio.to_thread(backups.get_backup_status, principal=principal)
            last = format_date(status.last_backup_at)
            self.backup_line = (f"Backups: last one {last}, " if last else "Backups: none yet, ") + \
                f"next {format_date(status.next_backup_at)}; each is kept {status.retention_days} days."

    @rx.event
    async def load(self):
        """on_load of /account."""
        self.activity_page, self.session_message = 0, ""
        await self._reload_signed_in()

    @rx.event
    async def revoke(self, session_id: str):
        """Sign another device out."""
        outcome = await self._act(revoke_session, done="That device is signed out.", session_id=session_id)
        if outcome is None:
            return self._to_login()
        self.session_message = outcome.message

    @rx.event
    async def go_to_activity(self, page: int):
        """Show another page of activity."""
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        self.activity_page = max(0, min(page, self.activity_pages - 1))
        await self._reload(principal)
