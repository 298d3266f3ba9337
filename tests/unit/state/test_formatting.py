"""Display strings the pages show for amounts (pure functions, no I/O)."""

from __future__ import annotations

import pytest

from saas_app.services.usage.plans import images_text
from saas_app.state.formatting import charge_text, format_amount


@pytest.mark.parametrize(("count", "text"), [(0, "0 images"), (1, "1 image"), (2, "2 images"), (1500, "1,500 images")])
def test_images_are_counted_in_words(count: float, text: str) -> None:
    assert images_text(count) == text


@pytest.mark.parametrize(("metric", "value", "text"), [
    ("images_count", 1.0, "1 image"),
    ("images_count", 3.0, "3 images"),
    ("tts_seconds", 3.1, "3.1 s of narration"),
    ("tts_seconds", 90.0, "1.5 min of narration"),
    ("render_minutes", 1.0, "1 min rendered"),
    ("storage_mb", 0.07, "71.7 KB stored"),
    ("storage_mb", 2.5, "2.5 MB stored"),
])
def test_a_charge_line_reads_in_the_units_users_think_in(metric: str, value: float, text: str) -> None:
    assert charge_text(metric, value) == text


def test_a_missing_limit_reads_as_unlimited() -> None:
    assert format_amount("images_count", None) == "unlimited"
