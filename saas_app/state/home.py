"""The front page: signed-in visitors go on to /create; everyone else sees what the product makes."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.state.billing import plan_cards
from saas_app.state.session import SessionState


class HomeState(SessionState):
    """Whether the visitor has been checked, and the plan cards (no current plan)."""

    checked: bool = False
    plans: list[dict[str, str]] = []

    @rx.event
    async def on_load(self):
        """on_load of `/`: redirect a signed-in visitor, show the front page to the others."""
        if await self._resolve_principal() is not None:
            return rx.redirect(routes.CREATE, replace=True)
        self.plans = plan_cards("")
        self.checked = True
        return None
