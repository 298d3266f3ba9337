"""A render status as a coloured badge."""

from __future__ import annotations

import reflex as rx


def status_badge(status: rx.Var) -> rx.Component:
    """queued (gray), running (blue), succeeded (green), failed (red), canceled (amber)."""
    scheme = rx.match(status, ("running", "blue"), ("succeeded", "green"), ("failed", "red"),
                      ("canceled", "amber"), "gray")
    return rx.badge(status, color_scheme=scheme, variant="soft", size="2", class_name="status-badge")
