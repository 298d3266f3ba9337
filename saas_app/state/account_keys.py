"""Account page, API and integration: create, copy (shown once), rotate and revoke API keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import reflex as rx
from reflex.event import EventSpec

from saas_app.services.account import api_keys
from saas_app.services.account.views import NewKey
from saas_app.services.auth.sessions import Principal
from saas_app.services.teams.permissions import Action, can
from saas_app.state.formatting import format_date
from saas_app.state.session import show_error
from saas_app.state.usage import UsageState


class AccountKeysState(UsageState):
    """Key rows (never secrets) plus the one freshly made secret, until the user dismisses it."""

    keys: list[dict[str, str]] = []
    new_key_name: str = ""
    revealed_secret: str = ""
    revealed_name: str = ""
    key_message: str = ""
    confirm_revoke_id: str = ""
    _one_shot_vars: ClassVar[tuple[str, ...]] = ("revealed_secret", "revealed_name")
    confirm_rotate_id: str = ""
    replaced: bool = False
    can_manage_keys: bool = False

    async def _reload(self, principal: Principal) -> None:
        self.can_manage_keys = can(principal.role, Action.API_KEYS_MANAGE)
        if not self.can_manage_keys:  # the section is hidden: its rows are not even loaded
            self.keys = []
            return
        rows = await self._call(api_keys.list_api_keys, principal=principal)
        self.keys = [{"id": k.id, "name": k.name, "prefix": k.prefix, "default": "yes" if k.is_default else "",
                      "created": format_date(k.created_at), "last_used": format_date(k.last_used_at) or "Never"}
                     for k in rows]

    @rx.event
    async def load(self):
        """on_load of /account."""
        self.revealed_secret, self.key_message, self.confirm_revoke_id = "", "", ""
        self.confirm_rotate_id, self.replaced = "", False
        await self._reload_signed_in()

    @rx.event
    def set_new_key_name(self, value: str):
        """Name typed for a new key."""
        self.new_key_name = value

    async def _key_action(self, service: Callable[..., Any], /, *, done: str = "",
                          **kwargs: Any) -> EventSpec | None:
        """Run a key action; a new key's secret is revealed once, otherwise the outcome's message is shown."""
        self.revealed_secret, self.revealed_name, self.key_message = "", "", ""
        self.replaced = False
        outcome = await self._act(service, done=done, **kwargs)
        if outcome is None:
            return self._to_login()
        if isinstance(outcome.result, NewKey):
            self.revealed_secret, self.revealed_name = outcome.result.key, outcome.result.name
        else:
            self.key_message = outcome.message
        return None if outcome.ok else show_error("key-message")

    @rx.event
    async def create_key(self):
        """Create a key with the typed name."""
        result = await self._key_action(api_keys.create_api_key, name=self.new_key_name)
        if self.revealed_secret:
            self.new_key_name = ""
        return result

    @rx.event
    def ask_rotate(self, key_id: str):
        """Ask before replacing a key (the old secret stops working at once)."""
        self.confirm_rotate_id = key_id

    @rx.event
    def close_rotate(self):
        """Keep the key as it is."""
        self.confirm_rotate_id = ""

    @rx.event
    async def rotate_key(self):
        """Replace the confirmed key with a new secret."""
        key_id, self.confirm_rotate_id = self.confirm_rotate_id, ""
        result = await self._key_action(api_keys.rotate_api_key, key_id=key_id)
        self.replaced = self.revealed_secret != ""
        return result

    @rx.event
    def ask_revoke(self, key_id: str):
        """Ask before revoking."""
        self.confirm_revoke_id = key_id

    @rx.event
    def close_revoke(self):
        """Keep the key."""
        self.confirm_revoke_id = ""

    @rx.event
    async def revoke_key(self):
        """Revoke the confirmed key."""
        key_id, self.confirm_revoke_id = self.confirm_revoke_id, ""
        return await self._key_action(api_keys.revoke_api_key, key_id=key_id,
                                      done="Key revoked. Requests using it are refused from now on.")

    @rx.event
    def dismiss_secret(self):
        """Hide the secret for good."""
        self.revealed_secret, self.revealed_name, self.key_message = "", "", ""

    @rx.event
    def copy_secret(self):
        """Copy the new key to the clipboard."""
        return [rx.set_clipboard(self.revealed_secret), rx.toast.success("Key copied")]
