"""The create page's quota hint and the refusal: what a render uses, what is left, used of limit."""

from __future__ import annotations

import pytest

from saas_app.services.usage.fit import blocked_reason, fit_line, fits, refusal_message


def test_a_hint_says_what_this_render_uses_and_what_is_left() -> None:
    assert fit_line("images_count", amount=3, remaining=2) == "3 images · 2 left"
    assert fit_line("images_count", amount=1, remaining=None) == "1 image · no limit"
    assert fit_line("tts_seconds", amount=12, remaining=600) == "about 12 s of narration · 10 min left"
    assert fit_line("render_minutes", amount=1, remaining=0) == "1 min of rendering · 0 min left"
    assert fit_line("images_count", amount=3, remaining=2, known=False) == "3 images"


@pytest.mark.parametrize(("amount", "remaining", "expected"), [
    (2, 2, True), (3, 2, False), (0.1 + 0.2, 0.3, True), (5, None, True), (1, 0, False)])
def test_fits_is_at_most_what_is_left(amount: float, remaining: float | None, expected: bool) -> None:
    assert fits(amount, remaining) is expected


def test_the_refusal_names_used_limit_and_requested() -> None:
    assert refusal_message("images_count", used=4, limit=6, requested=3) == (
        "Images: this render needs 3 images, and your plan has 2 images left this month (4 of 6 used). "
        "Upgrade your plan or wait for the monthly reset.")
    assert "needs 2 min" in refusal_message("tts_seconds", used=59_990, limit=60_000, requested=120)


def test_create_is_blocked_with_the_reason_only_when_something_does_not_fit() -> None:
    assert blocked_reason({"images_count": 2, "tts_seconds": 5}, {"images_count": 2, "tts_seconds": 60}) == ""
    assert blocked_reason({"images_count": 3}, {}) == ""  # unlimited
    assert blocked_reason({"images_count": 3}, {"images_count": 2}) == (
        "Not enough images left this month: this video needs 3 images, your plan has 2 images left.")
