"""Account page, data and privacy: export your data, delete the workspace (with a grace period)."""

from __future__ import annotations

import asyncio

import reflex as rx

from saas_app import routes
from saas_app.db import session_scope
from saas_app.services.account import deletion
from saas_app.services.account import exports
from saas_app.services.account.audit import RequestContext
from saas_app.services.account.status import ExportStatus
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import AppError
from saas_app.state.formatting import format_date
from saas_app.state.usage import UsageState

EXPORT_WATCH_TRIES = 120


def _load(principal: Principal) -> tuple[list[dict[str, str]], str | None]:
    with session_scope() as session:
        rows = exports.list_exports(session=session, tenant_id=principal.tenant_id)
        pending = deletion.get_deletion(session=session, tenant_id=principal.tenant_id)
        items = [{"id": r.id, "status": r.status, "created": format_date(r.created_at.isoformat()),
                  "expires": format_date(r.expires_at.isoformat()) if r.expires_at else "",
                  "url": routes.export_download(r.filename) if r.status == ExportStatus.READY else ""}
                 for r in rows]
        return items, pending.scheduled_for.isoformat() if pending else None


def _export(principal: Principal, ctx: RequestContext) -> None:
    with session_scope() as session:
        exports.request_export(session=session, principal=principal, ctx=ctx)


def _schedule(principal: Principal, typed: str, ctx: RequestContext) -> None:
    with session_scope() as session:
        deletion.schedule_deletion(session=session, principal=principal, confirm_email=typed, ctx=ctx)


def _cancel(principal: Principal, ctx: RequestContext) -> None:
    with session_scope() as session:
        deletion.cancel_deletion(session=session, principal=principal, ctx=ctx)


class AccountDataState(UsageState):
    """Exports list, export request, deletion schedule and its countdown."""

    export_rows: list[dict[str, str]] = []
    export_message: str = ""
    deletion_at: str = ""
    deletion_iso: str = ""
    confirm_text: str = ""
    delete_message: str = ""
    delete_dialog: bool = False

    @rx.var
    def can_confirm_delete(self) -> bool:
        """The typed email matches the account's."""
        return self.confirm_text.strip().lower() == self.user_email.lower() and self.user_email != ""

    async def _reload(self, principal: Principal) -> None:
        self.export_rows, iso = await asyncio.to_thread(_load, principal)
        self.deletion_iso = iso or ""
        self.deletion_at = format_date(iso) if iso else ""

    @rx.event
    async def load(self):
        """on_load of /account."""
        principal = await self._resolve_principal()
        if principal is not None:
            self.export_message, self.delete_message = "", ""
            await self._reload(principal)

    @rx.event
    async def request_export(self):
        """Queue a data export."""
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        try:
            await asyncio.to_thread(_export, principal, self._request_context())
            self.export_message = "Your export is being prepared. We'll email you when it's ready (usually a minute)."
        except AppError as exc:
            self.export_message = exc.message
        await self._reload(principal)
        return AccountDataState.watch_exports

    @rx.event(background=True)
    async def watch_exports(self):
        """Refresh the exports list until none is being prepared (at most two minutes)."""
        for _ in range(EXPORT_WATCH_TRIES):
            await asyncio.sleep(1)
            async with self:
                principal = await self._resolve_principal()
                if principal is None:
                    return
                await self._reload(principal)
                if not any(row["status"] == ExportStatus.QUEUED for row in self.export_rows):
                    return

    @rx.event
    async def refresh_exports(self):
        """Check whether the export is ready."""
        principal = await self._resolve_principal()
        if principal is not None:
            await self._reload(principal)

    @rx.event
    def open_delete(self):
        """Open the typed-confirmation dialog."""
        self.delete_dialog, self.confirm_text, self.delete_message = True, "", ""

    @rx.event
    def close_delete(self):
        """Close it without deleting."""
        self.delete_dialog, self.confirm_text = False, ""

    @rx.event
    def set_confirm_text(self, value: str):
        """The email typed to confirm."""
        self.confirm_text = value

    @rx.event
    async def confirm_delete(self):
        """Schedule the deletion."""
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        try:
            await asyncio.to_thread(_schedule, principal, self.confirm_text, self._request_context())
            self.delete_dialog, self.delete_message = False, "Deletion scheduled. We emailed you a link to cancel."
        except AppError as exc:
            self.delete_message = exc.message
        await self._reload(principal)

    @rx.event
    async def cancel_delete(self):
        """Cancel the scheduled deletion."""
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        try:
            await asyncio.to_thread(_cancel, principal, self._request_context())
            self.delete_message = "Deletion canceled. Your workspace stays as it is."
        except AppError as exc:
            self.delete_message = exc.message
        await self._reload(principal)
