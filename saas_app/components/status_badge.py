"""A render status as a coloured badge."""

from __future__ import annotations

import reflex as rx

from saas_app.state.formatting import RENDER_STATUS_COLORS


def status_badge(status: rx.Var) -> rx.Component:
    """Coloured by `RENDER_STATUS_COLORS` (gray for the rest: queued)."""
    scheme = rx.match(status, *RENDER_STATUS_COLORS, "gray")
    return rx.badge(status, color_scheme=scheme, variant="soft", size="2", class_name="status-badge")
