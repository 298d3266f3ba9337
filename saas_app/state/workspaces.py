"""The workspace switcher in the top bar, and the tab's watch on its user's access.

Switching or creating a workspace changes the current workspace of the browser session (every
tab of it); this tab then loads its page again for the new workspace (its states reset
themselves when the workspace changes: `SessionState._resolve_principal`).

While a signed-in page is open, one background task per tab (`watch_access`) reads the user's
access change counter (`services/teams/access_changes.py`) about twice a second. When it moves
(removed from the workspace, a role changed, sessions ended) the tab checks its principal again:
gone means every user-bound state is reset and the tab goes to the sign-in page with a plain
message (removed from the workspace, or signed out); another workspace or role means the page loads
again as it is now.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import secrets
from typing import Any

import reflex as rx
from reflex.event import EventSpec
from reflex.utils import prerequisites

from saas_app import routes
from saas_app.services.auth.sessions import Principal, authenticate_browser_session
from saas_app.services.teams import memberships, switching
from saas_app.services.teams.access_changes import get_access_changes
from saas_app.services.teams.memberships import WorkspaceView
from saas_app.state.login import LoginState
from saas_app.state.session import SessionState, show_error

log = logging.getLogger(__name__)
ACCESS_SECONDS = 0.5  # how often a tab reads its user's access change counter
_STAY_ON = (routes.CREATE, routes.LIBRARY, routes.TEAM, routes.BILLING, routes.ACCOUNT)  # others: the library


def _go(path: str) -> EventSpec:
    """A full page load of `path` (the tab's state is checked and reset before it is sent again)."""
    return rx.call_script(f"window.location.assign({json.dumps(path)})")


_WATCHES: dict[str, str] = {}  # tab token -> the id of its running access watch (a tab's events run here)


@functools.cache
def _token_manager() -> Any:
    """The app's record of connected tabs (None when this process serves no app: tests driving states)."""
    try:
        namespace = prerequisites.get_app().app.event_namespace
    except Exception:
        return None
    return None if namespace is None else namespace._token_manager


def _tab_here(token: str) -> bool:
    """Whether the tab's websocket is connected to this process (where its watch runs); True when unknown."""
    manager = _token_manager()
    if manager is None:
        return True
    record = manager.token_to_socket.get(token)
    return record is not None and record.instance_id == manager.instance_id


class WorkspacesState(SessionState):
    """The switcher's rows (name, role, plan) and the create dialog."""

    workspaces: list[dict[str, str]] = []
    current_name: str = ""
    current_plan: str = ""
    current_role: str = ""
    create_open: bool = False
    new_name: str = ""
    create_error: str = ""
    creating: bool = False
    switch_error: str = ""
    _access_watch: str = ""  # the id of the tab's running access watch (a newer page load replaces it)

    async def _reload(self, principal: Principal) -> None:
        self._show(await self._call(memberships.list_workspaces, user_id=principal.user_id,
                                    current_tenant_id=principal.tenant_id))

    def _show(self, views: list[WorkspaceView]) -> None:
        self.workspaces = [{"id": v.tenant_id, "name": v.name, "role": v.role.title(), "plan": v.plan_name,
                            "current": "yes" if v.current else ""} for v in views]
        current = next((v for v in views if v.current), None)
        self.current_name = current.name if current else ""
        self.current_plan = current.plan_name if current else ""
        self.current_role = current.role.title() if current else ""

    @rx.event
    async def load(self):
        """on_load of every signed-in page: the switcher's list, and the tab's access watch."""
        before = self._user_id
        seen = await asyncio.to_thread(get_access_changes, before) if before else None
        principal = await self._resolve_principal()  # after reading the counter: a change from now on is seen
        if principal is None:
            return None
        if principal.user_id != before or seen is None:
            seen = await asyncio.to_thread(get_access_changes, principal.user_id)
        await self._reload(principal)
        self.switch_error = ""
        self._access_watch = _WATCHES[self.router.session.client_token] = secrets.token_hex(8)
        return WorkspacesState.watch_access(self._access_watch, -1 if seen is None else seen)

    def _after_switch(self) -> EventSpec:
        path = self.router.page.path
        return _go(path if path in _STAY_ON else routes.LIBRARY)

    @rx.event
    async def switch(self, tenant_id: str):
        """Make another workspace the current one and load this page for it."""
        if tenant_id == self._tenant_id:
            return None
        outcome = await self._act(switching.switch_workspace, done="", tenant_id=tenant_id[:64])
        if outcome is None:
            return self._to_login()
        if not outcome.ok:
            self.switch_error = outcome.message
            return None
        return self._after_switch()

    @rx.event
    def open_create(self):
        """Open the "Create workspace" dialog."""
        self.create_open, self.new_name, self.create_error = True, "", ""

    @rx.event
    def set_create_open(self, value: bool):
        """The dialog opened or closed (Escape, Cancel, a click outside)."""
        self.create_open, self.create_error = value, ""

    @rx.event
    def set_new_name(self, value: str):
        """The name typed for a new workspace."""
        self.new_name, self.create_error = value, ""

    @rx.event
    async def create(self, form_data: dict | None = None):
        """Create a workspace with the typed name, owned by the user, and open it."""
        if form_data and "name" in form_data:
            self.new_name = str(form_data["name"])
        self.creating = True
        yield
        outcome = await self._act(switching.create_and_switch, done="", name=self.new_name[:200])
        self.creating = False
        if outcome is None:
            yield self._to_login()
            return
        if not outcome.ok:
            self.create_error = outcome.message
            yield show_error("create-workspace-error")
            return
        self.create_open = False
        yield _go(routes.CREATE)

    async def _lost_access(self, name: str, signed_out: bool) -> EventSpec:
        """The tab's user may no longer act here (removed from the workspace, or their session ended):
        forget everything the tab showed and go to sign in, saying which."""
        await self._reset_user_states()
        if signed_out:
            return rx.redirect(routes.login_signed_out(), replace=True)
        login = await self.get_state(LoginState)
        login._lost_workspace = name
        return rx.redirect(routes.login_access_lost(), replace=True)

    @rx.event(background=True)
    async def watch_access(self, watch_id: str, seen: int):
        """Follow the user's access change counter (`seen`: its value when the page loaded) while this tab
        shows a signed-in page."""
        async with self:
            user_id, tenant_id, role = self._user_id, self._tenant_id, self.role
            cookie, token = self._cookie_value(), self.router.session.client_token
        if not user_id:
            return None
        try:  # the loop takes no lock: one Redis read per turn
            while _tab_here(token) and _WATCHES.get(token) == watch_id:  # else: gone, or a newer load watches
                await asyncio.sleep(ACCESS_SECONDS)
                changes = await asyncio.to_thread(get_access_changes, user_id)
                if changes is None or changes == seen:
                    continue
                seen = changes
                async with self:
                    if self._access_watch != watch_id:  # the tab was reset meanwhile (signed out in it)
                        return None
                principal = await self._call(authenticate_browser_session, cookie_value=cookie)
                if principal is None:
                    member = await self._call(memberships.get_membership, tenant_id=tenant_id, user_id=user_id)
                    async with self:
                        return await self._lost_access(self.current_name, signed_out=member is not None)
                if (principal.user_id, principal.tenant_id, principal.role) != (user_id, tenant_id, role):
                    return rx.call_script("window.location.reload()")  # another role or workspace: load again
                # Same here, changed elsewhere (removed from another workspace, a role there): the menu follows.
                views = await self._call(memberships.list_workspaces, user_id=user_id, current_tenant_id=tenant_id)
                async with self:
                    if self._access_watch != watch_id:
                        return None
                    self._show(views)
        except Exception:  # a page must never break: the next page load starts watching again
            log.exception("access watch stopped")
        finally:
            if _WATCHES.get(token) == watch_id:
                del _WATCHES[token]
        return None
