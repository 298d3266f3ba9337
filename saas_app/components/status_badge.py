"""A render status as a coloured badge in plain words ("Ready", "Rendering…"), its raw value in `data-status`."""

from __future__ import annotations

import reflex as rx

from saas_app.state.formatting import RENDER_STATUS_COLORS, RENDER_STATUS_LABELS


def status_badge(status: rx.Var) -> rx.Component:
    """Coloured by `RENDER_STATUS_COLORS` (gray for the rest: queued), high-contrast text (WCAG AA)."""
    scheme = rx.match(status, *RENDER_STATUS_COLORS, "gray")
    label = rx.match(status, *RENDER_STATUS_LABELS, status)
    return rx.badge(label, color_scheme=scheme, variant="soft", high_contrast=True, size="2",
                    class_name="status-badge", data_status=status, data_testid="status-badge")
