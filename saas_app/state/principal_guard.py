"""Runs before Reflex sends a tab its whole state: nothing of a previous user may go out.

Reflex keeps a tab's state on the server across page loads and sends all of it when the
page (re)connects, before any `on_load` handler runs. This middleware checks the tab's
principal first (`SessionState._before_full_sync`), so a tab whose user signed out,
expired or changed is reset before that snapshot is taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reflex.middleware import Middleware
from reflex.state import BaseState, State, StateUpdate
from reflex_base.event import Event
from reflex_base.utils.format import format_event_handler

from saas_app.state.session import SessionState

if TYPE_CHECKING:
    from reflex.app import App

_FULL_SYNC_EVENTS = ("hydrate", "hydrate_and_load")


def _full_sync_event_names() -> frozenset[str]:
    return frozenset(format_event_handler(State.event_handlers[name]) for name in _FULL_SYNC_EVENTS)


class PrincipalGuard(Middleware):
    """Reset user-bound states whose principal changed, before the full-state snapshot is sent."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        """On a hydrate event: check the principal (and reset); never answers the event itself."""
        if event.name in _full_sync_event_names():
            session_state = await state.get_state(SessionState)
            await session_state._before_full_sync()
        return None
