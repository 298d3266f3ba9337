"""Display strings the pages show for amounts (pure functions, no I/O)."""

from __future__ import annotations

import pytest

from saas_app.services.renders.status import RenderStatus
from saas_app.services.usage.metrics import IMAGES
from saas_app.state.formatting import (
    RENDER_STATUS_LABELS,
    charge_text,
    estimate_text,
    format_amount,
    format_duration,
    format_elapsed,
    plan_quota_text,
)


@pytest.mark.parametrize(("count", "text"), [(0, "0 images"), (1, "1 image"), (2, "2 images"), (1500, "1,500 images")])
def test_images_are_counted_in_words(count: float, text: str) -> None:
    assert IMAGES.text(count) == text


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


@pytest.mark.parametrize(("metric", "value", "text"), [
    ("images_count", 2.0, "2 images"),
    ("tts_seconds", 12.5, "about 12.5 s of narration"),
    ("render_minutes", 0.5, "30 s of rendering"),  # one style for every duration
    ("storage_mb", 1.5, "up to 1.5 MB of storage"),
])
def test_the_create_page_estimate_reads_in_words(metric: str, value: float, text: str) -> None:
    assert estimate_text(metric, value) == text


def test_a_plan_card_uses_the_banners_metric_names_or_unlimited() -> None:
    limits = {"images_count": 2500, "tts_seconds": 300000, "render_minutes": 2500, "storage_mb": 500000}
    assert plan_quota_text(limits) == \
        "Images 2,500 · Speech 5,000 min · Render minutes 2,500 min a month; Storage 488 GB"
    assert plan_quota_text(dict.fromkeys(limits)) == "Unlimited usage"


def test_an_unknown_metric_still_reads_as_a_number_and_its_name() -> None:
    assert charge_text("gif_frames", 3.0) == "3 gif_frames"
    assert format_amount("gif_frames", None) == "unlimited"


def test_every_render_status_has_a_plain_label() -> None:
    labels = dict(RENDER_STATUS_LABELS)
    assert set(labels) == set(RenderStatus)
    assert labels[RenderStatus.SUCCEEDED] == "Ready" and labels[RenderStatus.RUNNING] == "Rendering…"
@pytest.mark.parametrize(("seconds", "text"), [(8.9, "0:08"), (9.0, "0:09"), (65.2, "1:05"), (0.4, "0:00")])
def test_a_duration_counts_whole_seconds_as_the_player_does(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(4.2, "4 s"), (0.2, "1 s"), (65, "1 min 5 s"), (120, "2 min")])
def test_elapsed_time_reads_in_minutes_and_seconds(seconds: float, text: str) -> None:
    assert format_elapsed(seconds) == text
