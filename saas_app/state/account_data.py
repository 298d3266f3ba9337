"""Account page, data and privacy: export your data, delete the workspace (owners; with a grace period)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import reflex as rx

from saas_app.services.account import deletion, exports
from saas_app.services.account.export_contents import export_summary
from saas_app.services.account.status import ExportStatus
from saas_app.services.account.views import DeletionView, ExportView
from saas_app.services.auth.sessions import Principal
from saas_app.services.teams.permissions import Action, can
from saas_app.state.formatting import format_date
from saas_app.state.session import show_error
from saas_app.state.usage import UsageState

EXPORT_WATCH_TRIES = 120


@dataclass(frozen=True)
class DataPrivacy:
    """The tenant's latest exports and its pending deletion."""

    exports: list[ExportView]
    deletion: DeletionView


class AccountDataState(UsageState):
    """Exports list, export request, deletion schedule and its countdown."""

    export_rows: list[dict[str, str]] = []
    export_message: str = ""
    deletion_at: str = ""
    deletion_iso: str = ""
    confirm_text: str = ""
    delete_message: str = ""
    delete_dialog: bool = False
    grace_period: str = ""
    can_delete_workspace: bool = False
    export_scope: str = ""  # what this role's export includes, in words

    @rx.var
    def can_confirm_delete(self) -> bool:
        """The typed email matches the account's."""
        return self.confirm_text.strip().lower() == self.user_email.lower() and self.user_email != ""

    async def _fetch(self, principal: Principal) -> DataPrivacy:
        rows = await self._call(exports.list_exports, tenant_id=principal.tenant_id, user_id=principal.user_id)
        pending = await self._call(deletion.get_deletion, tenant_id=principal.tenant_id)
        return DataPrivacy(exports=rows, deletion=DeletionView.from_row(pending))

    def _show(self, data: DataPrivacy) -> None:
        self.export_rows = [{"id": r.id, "status": r.status, "created": format_date(r.created_at),
                             "expires": format_date(r.expires_at), "url": r.download_url or ""}
                            for r in data.exports]
        when = data.deletion.scheduled_for
        self.deletion_iso = when.isoformat() if when else ""
        self.deletion_at = format_date(when)

    async def _reload(self, principal: Principal) -> None:
        self.can_delete_workspace = can(principal.role, Action.WORKSPACE_DELETE)
        self.export_scope = export_summary(principal.role)
        self._show(await self._fetch(principal))

    @rx.event
    async def load(self):
        """on_load of /account."""
        self.export_message, self.delete_message = "", ""
        self.grace_period = deletion.grace_period_text()
        await self._reload_signed_in()

    @rx.event
    async def refresh_exports(self):
        """Check whether the export is ready."""
        await self._reload_signed_in()

    @rx.event
    async def request_export(self):
        """Queue a data export."""
        outcome = await self._act(exports.request_export, done="Your export is being prepared. "
                                  "We'll email you when it's ready (usually a minute).")
        if outcome is None:
            return self._to_login()
        self.export_message = outcome.message
        return AccountDataState.watch_exports

    @rx.event(background=True)
    async def watch_exports(self):
        """Refresh the exports list until none is being prepared (at most two minutes; unlocked while it reads)."""
        for _ in range(EXPORT_WATCH_TRIES):
            await asyncio.sleep(1)
            principal = await self._background_principal()
            if principal is None:
                return
            data = await self._fetch(principal)
            async with self:
                self._show(data)
            if not any(row.status == ExportStatus.QUEUED for row in data.exports):
                return

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
        outcome = await self._act(deletion.schedule_deletion, confirm_email=self.confirm_text,
                                  done="Deletion scheduled. We emailed you a link to cancel.")
        if outcome is None:
            return self._to_login()
        self.delete_message = outcome.message
        if outcome.ok:
            self.delete_dialog = False
            return None
        return show_error("delete-dialog-message")

    @rx.event
    async def cancel_delete(self):
        """Cancel the scheduled deletion."""
        outcome = await self._act(deletion.cancel_deletion, done="Deletion canceled. Your workspace stays as it is.")
        if outcome is None:
            return self._to_login()
        self.delete_message = outcome.message
