"""Account page, "Delete my account": the person's own account (any role), not the workspace."""

from __future__ import annotations

import reflex as rx

from saas_app.services.account import user_deletion
from saas_app.services.auth.sessions import Principal
from saas_app.state.formatting import format_date
from saas_app.state.session import show_error
from saas_app.state.usage import UsageState


class AccountPersonState(UsageState):
    """The person's pending account deletion, and the workspaces to hand over or delete first."""

    my_deletion_at: str = ""
    my_deletion_iso: str = ""
    blocking: list[dict[str, str]] = []  # {"name", "members"}: workspaces they alone own while others use them
    confirm_me_text: str = ""
    delete_me_dialog: bool = False
    delete_me_message: str = ""

    @rx.var
    def can_confirm_delete_me(self) -> bool:
        """The typed email matches the account's."""
        return self.confirm_me_text.strip().lower() == self.user_email.lower() and self.user_email != ""

    @rx.var
    def delete_me_blocked(self) -> bool:
        """Whether workspaces must be handed over or deleted before the account can go."""
        return len(self.blocking) > 0

    async def _reload(self, principal: Principal) -> None:
        view = await self._call(user_deletion.get_user_deletion_view, user_id=principal.user_id)
        when = view.scheduled_for
        self.my_deletion_iso, self.my_deletion_at = (when.isoformat() if when else ""), format_date(when)
        self.blocking = [{"name": w.name, "members": f"{w.members} members"} for w in view.blocking_workspaces]

    @rx.event
    async def load(self):
        """on_load of /account."""
        self.delete_me_message, self.delete_me_dialog = "", False
        await self._reload_signed_in()

    @rx.event
    def open_delete_me(self):
        """Open the typed-confirmation dialog."""
        self.delete_me_dialog, self.confirm_me_text, self.delete_me_message = True, "", ""

    @rx.event
    def close_delete_me(self):
        """Close it without deleting."""
        self.delete_me_dialog, self.confirm_me_text = False, ""

    @rx.event
    def set_confirm_me_text(self, value: str):
        """The email typed to confirm."""
        self.confirm_me_text = value

    @rx.event
    async def confirm_delete_me(self):
        """Schedule the account's deletion."""
        outcome = await self._act(user_deletion.schedule_user_deletion, confirm_email=self.confirm_me_text,
                                  done="Your account's deletion is scheduled. We emailed you a link to cancel.")
        if outcome is None:
            return self._to_login()
        self.delete_me_message = outcome.message
        if outcome.ok:
            self.delete_me_dialog = False
            return None
        return show_error("delete-me-dialog-message")

    @rx.event
    async def cancel_delete_me(self):
        """Cancel the account's scheduled deletion."""
        outcome = await self._act(user_deletion.cancel_user_deletion,
                                  done="Deletion canceled. Your account stays as it is.")
        if outcome is None:
            return self._to_login()
        self.delete_me_message = outcome.message
