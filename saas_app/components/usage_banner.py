"""The usage banner: one bar per metric, purple normally, orange at 90 %, red at 100 %."""

from __future__ import annotations

import reflex as rx

from saas_app.components.theme import MUTED
from saas_app.state.usage import UsageState

_BAR_COLORS = {"violet": "#6d28d9", "orange": "#c2410c", "red": "#b91c1c"}


def _bar(row: rx.Var) -> rx.Component:
    color = rx.match(row["color"], ("orange", _BAR_COLORS["orange"]), ("red", _BAR_COLORS["red"]),
                     _BAR_COLORS["violet"])
    return rx.vstack(
        rx.hstack(rx.text(row["label"], size="2", weight="medium"), rx.spacer(),
                  rx.text(row["value"], size="1", color=MUTED), width="100%"),
        rx.box(
            rx.box(height="100%", width=row["width"], background=color, border_radius="4px",
                   data_color=row["color"]),
            height="8px", width="100%", background="#ede9fe", border_radius="4px",
            role="progressbar", aria_label=row["label"], aria_valuenow=row["percent"],
            aria_valuemin="0", aria_valuemax="100",
        ),
        spacing="1", min_width="180px", flex="1", data_metric=row["metric"],
    )


def _summary_item(row: rx.Var) -> rx.Component:
    return rx.text.span(row["label"], " ", row["value"], " · ")


def _phone_summary() -> rx.Component:
    """Phones: one line ("Usage: Images 3 / 6 · …") that expands into the bars."""
    return rx.box(
        rx.el.details(
            rx.el.summary(rx.text.strong("Usage: "), rx.foreach(UsageState.rows, _summary_item),
                          data_testid="usage-summary"),
            rx.box(_bars(), padding="0 1em 0.75em"),
            class_name="usage-summary",
        ),
        rx.cond(UsageState.warning != "",
                rx.text(UsageState.warning, " ", rx.link("Upgrade your plan", href=UsageState.upgrade_path,
                                                         weight="bold", color="#5b21b6"),
                        size="2", color="#7c2d12", padding="0 1em 0.6em")),
        class_name="phone-only", background="white", border_bottom="1px solid #e5e7eb",
    )


def usage_banner() -> rx.Component:
    """Usage this month, with a warning line and upgrade link near or at the limit (one line on phones)."""
    return rx.fragment(_phone_summary(), rx.box(_full_banner(), class_name="desktop-only"))


def _bars() -> rx.Component:
    return rx.flex(rx.foreach(UsageState.rows, _bar), gap="1.25em", wrap="wrap", width="100%")


def _full_banner() -> rx.Component:
    return rx.box(
        rx.cond(
            UsageState.unavailable,
            rx.text("Usage figures are briefly unavailable.", size="2", color=MUTED),
            rx.vstack(
                _bars(),
                rx.cond(
                    UsageState.warning != "",
                    rx.hstack(
                        rx.icon("triangle-alert", size=16, color=_BAR_COLORS["orange"]),
                        rx.text(UsageState.warning, size="2", color="#7c2d12", id="usage-warning"),
                        rx.link("Upgrade your plan", href=UsageState.upgrade_path, weight="bold",
                                color="#5b21b6", id="usage-upgrade"),
                        spacing="2", align="center", wrap="wrap",
                    ),
                ),
                rx.cond(
                    UsageState.payment_warning != "",
                    rx.hstack(rx.icon("credit-card", size=16, color=_BAR_COLORS["orange"]),
                              rx.text(UsageState.payment_warning, size="2", color="#7c2d12", id="payment-warning"),
                              rx.link("Manage billing", href=UsageState.upgrade_path, weight="bold", color="#5b21b6"),
                              spacing="2", align="center", wrap="wrap"),
                ),
                spacing="2", width="100%",
            ),
        ),
        id="usage-banner", padding="0.75em 1.25em", background="white", border_bottom="1px solid #e5e7eb",
        aria_label="Usage this month", role="region",
    )
