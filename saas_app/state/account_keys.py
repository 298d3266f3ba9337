"""Account page, API and integration: create, copy (shown once), rotate and revoke API keys."""

from __future__ import annotations

import asyncio

import reflex as rx

from saas_app.db import session_scope
from saas_app.services.account import api_keys
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import AppError
from saas_app.state.formatting import format_date
from saas_app.state.usage import UsageState


def _list(principal: Principal) -> list[dict[str, str]]:
    with session_scope() as session:
        return [{"id": k.id, "name": k.name, "prefix": k.prefix, "default": "yes" if k.is_default else "",
                 "created": format_date(k.created_at.isoformat()),
                 "last_used": format_date(k.last_used_at.isoformat()) if k.last_used_at else "Never"}
                for k in api_keys.list_api_keys(session=session, tenant_id=principal.tenant_id)]


def _create(principal: Principal, name: str, ctx: RequestContext) -> api_keys.NewKey:
    with session_scope() as session:
        return api_keys.create_api_key(session=session, principal=principal, name=name, ctx=ctx)


def _rotate(principal: Principal, key_id: str | None, ctx: RequestContext) -> api_keys.NewKey:
    with session_scope() as session:
        return api_keys.rotate_api_key(session=session, principal=principal, key_id=key_id, ctx=ctx)


def _revoke(principal: Principal, key_id: str, ctx: RequestContext) -> None:
    with session_scope() as session:
        api_keys.revoke_api_key(session=session, principal=principal, key_id=key_id, ctx=ctx)


class AccountKeysState(UsageState):
    """Key rows (never secrets) plus the one freshly made secret, until the user dismisses it."""

    keys: list[dict[str, str]] = []
    new_key_name: str = ""
    revealed_secret: str = ""
    revealed_name: str = ""
    key_message: str = ""
    confirm_revoke_id: str = ""

    async def _reload(self, principal: Principal) -> None:
        self.keys = await asyncio.to_thread(_list, principal)

    @rx.event
    async def load(self):
        """on_load of /account."""
        principal = await self._resolve_principal()
        if principal is not None:
            self.revealed_secret, self.key_message, self.confirm_revoke_id = "", "", ""
            await self._reload(principal)

    @rx.event
    def set_new_key_name(self, value: str):
        """Name typed for a new key."""
        self.new_key_name = value

    def _reveal(self, key: api_keys.NewKey) -> None:
        self.revealed_secret, self.revealed_name = key.secret, key.name
        self.key_message = "Copy this key now: it will not be shown again."

    async def _run(self, action):  # type: ignore[no-untyped-def]
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        self.revealed_secret, self.revealed_name, self.key_message = "", "", ""
        try:
            result = await asyncio.to_thread(action, principal, self._request_context())
            if isinstance(result, api_keys.NewKey):
                self._reveal(result)
        except AppError as exc:
            self.key_message = exc.message
        await self._reload(principal)
        return None

    @rx.event
    async def create_key(self):
        """Create a key with the typed name."""
        name = self.new_key_name
        result = await self._run(lambda p, ctx: _create(p, name, ctx))
        if self.revealed_secret:
            self.new_key_name = ""
        return result

    @rx.event
    async def rotate_key(self, key_id: str):
        """Replace a key with a new secret."""
        return await self._run(lambda p, ctx: _rotate(p, key_id, ctx))

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
        result = await self._run(lambda p, ctx: _revoke(p, key_id, ctx))
        if not self.key_message:
            self.key_message = "Key revoked. Requests using it are refused from now on."
        return result

    @rx.event
    def dismiss_secret(self):
        """Hide the secret for good."""
        self.revealed_secret, self.revealed_name, self.key_message = "", "", ""

    @rx.event
    def copy_secret(self):
        """Copy the new key to the clipboard."""
        return [rx.set_clipboard(self.revealed_secret), rx.toast.success("Key copied")]
