"""Account page, security: sessions, backups and recent activity (paginated)."""

from __future__ import annotations

import asyncio

import reflex as rx

from saas_app.db import session_scope
from saas_app.services.account import audit
from saas_app.services.account import backups
from saas_app.services.account.sessions import describe_device, list_active_sessions, revoke_session
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import AppError
from saas_app.state.formatting import format_date
from saas_app.state.usage import UsageState

ACTIVITY_PAGE = 10


def _sessions(principal: Principal) -> list[dict[str, str]]:
    with session_scope() as session:
        return [{"id": s.id, "device": describe_device(s.user_agent), "ip": s.ip or "unknown",
                 "last_seen": format_date(s.last_seen_at.isoformat()), "kind": s.kind,
                 "current": "yes" if s.id == principal.session_id else ""}
                for s in list_active_sessions(session=session, user_id=principal.user_id)]


def _activity(principal: Principal, page: int) -> tuple[list[dict[str, str]], int]:
    with session_scope() as session:
        rows, total = audit.list_events(session=session, tenant_id=principal.tenant_id, limit=ACTIVITY_PAGE,
                                        offset=page * ACTIVITY_PAGE)
        return [{"when": format_date(r.created_at.isoformat()), "action": r.action.replace("_", " "),
                 "actor": r.actor or "system", "ip": r.ip, "target": r.target[:24]} for r in rows], total


def _revoke(principal: Principal, session_id: str, ctx: RequestContext) -> None:
    with session_scope() as session:
        revoke_session(session=session, principal=principal, session_id=session_id, ctx=ctx)


class AccountSecurityState(UsageState):
    """Sessions, backup status and the activity log."""

    sessions: list[dict[str, str]] = []
    session_message: str = ""
    last_backup: str = ""
    next_backup: str = ""
    retention_days: int = 0
    activity: list[dict[str, str]] = []
    activity_page: int = 0
    activity_total: int = 0

    @rx.var
    def activity_pages(self) -> int:
        """How many activity pages there are."""
        return max(1, -(-self.activity_total // ACTIVITY_PAGE))

    async def _reload(self, principal: Principal) -> None:
        self.sessions = await asyncio.to_thread(_sessions, principal)
        self.activity, self.activity_total = await asyncio.to_thread(_activity, principal, self.activity_page)
        status = await asyncio.to_thread(backups.get_backup_status)
        self.last_backup = format_date(status["last_backup_at"]) or "No backup yet"
        self.next_backup = format_date(status["next_backup_at"])
        self.retention_days = status["retention_days"]

    @rx.event
    async def load(self):
        """on_load of /account."""
        principal = await self._resolve_principal()
        if principal is not None:
            self.activity_page, self.session_message = 0, ""
            await self._reload(principal)

    @rx.event
    async def revoke(self, session_id: str):
        """Sign another device out."""
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        try:
            await asyncio.to_thread(_revoke, principal, session_id, self._request_context())
            self.session_message = "That device is signed out."
        except AppError as exc:
            self.session_message = exc.message
        await self._reload(principal)

    @rx.event
    async def go_to_activity(self, page: int):
        """Show another page of activity."""
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        self.activity_page = max(0, min(page, self.activity_pages - 1))
        await self._reload(principal)
