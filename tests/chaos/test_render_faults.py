"""Faults inside a render, with a real worker process: slow and failing image engines, an
unsupported language, no speech engine, a stuck ffmpeg, a killed work-horse. Each render ends
plainly, is retried where a retry may help, and is charged once, only for what was made."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from chaos_worker import IMAGE_ENGINE_FAILED
from render_jobs import (
    SCENES,
    WorkerHandle,
    assert_counters_match_ledger,
    assert_reservation_released,
    charges,
    load_steps,
    render_processes,
    step_metrics,
    submit,
    wait_step,
    wait_terminal,
    wait_until,
    wait_wound_up,
)
from sqlmodel import Session, col, update

from saas_app.models import Render
from saas_app.services.auth.sessions import Principal
from saas_app.services.renders.files import render_dir

pytestmark = pytest.mark.db


def _stuck_once_ffmpeg(tmp_path: Path) -> Path:
    """An ffmpeg that hangs (prints nothing, never ends) on its first run, then is the real one."""
    import imageio_ffmpeg

    real, marker = imageio_ffmpeg.get_ffmpeg_exe(), tmp_path / "ffmpeg-hung-once"
    path = tmp_path / "stuck-once-ffmpeg"
    path.write_text(f"#!{sys.executable}\nimport os, pathlib, time, sys\n"
                    f"marker = pathlib.Path({str(marker)!r})\n"
                    "if not marker.exists():\n    marker.touch()\n    time.sleep(600)\n"
                    f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n")
    path.chmod(0o755)
    return path


def test_an_image_step_that_runs_past_its_timeout_fails_plainly_and_charges_no_images(
    session: Session, principal: Principal, chaos_worker: Callable[..., WorkerHandle], redis_client: redis.Redis,
) -> None:
    worker = chaos_worker(CHAOS_IMAGES="slow:1.5", RENDER_STEP_TIMEOUT_SECONDS="2", RENDER_MAX_RETRIES="0")
    render = wait_terminal(submit(session, principal, scenes=SCENES[:2]), worker)
    wait_wound_up(redis_client, render.id, worker)  # the work files go after the status

    assert render.status == "failed", worker.log_tail()
    assert render.error.startswith("The images step did not finish within 2 seconds and was stopped.")
    assert load_steps(render.id)["images"].status == "failed"
    assert ("images", "images_count") not in step_metrics(render.id)  # nothing made, nothing charged
    assert [s for s, _ in step_metrics(render.id)] == ["speech"]
    assert_reservation_released(redis_client, render.tenant_id, render.id)


def test_images_that_fail_once_are_retried_and_charged_once(
    session: Session, principal: Principal, chaos_worker: Callable[..., WorkerHandle], redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    worker = chaos_worker(CHAOS_IMAGES=f"flaky:{tmp_path}")
    render = wait_terminal(submit(session, principal, scenes=SCENES[:2]), worker)
    wait_wound_up(redis_client, render.id, worker)  # the work files go after the status

    assert render.status == "succeeded", (render.error, worker.log_tail())
    assert render.attempts == 2 and (tmp_path / f"failed-{render.id}").exists()
    assert charges(render.id)[("images", "images_count")] == 2
    assert sorted(step_metrics(render.id)) == sorted(set(step_metrics(render.id)))  # each charge once
    assert_counters_match_ledger(redis_client, render.tenant_id, render.period)
    assert_reservation_released(redis_client, render.tenant_id, render.id)


def test_images_that_keep_failing_fail_the_render_plainly_charging_only_what_was_made(
    session: Session, principal: Principal, chaos_worker: Callable[..., WorkerHandle], redis_client: redis.Redis,
) -> None:
    worker = chaos_worker(CHAOS_IMAGES="broken")
    render = wait_terminal(submit(session, principal, scenes=SCENES[:2]), worker)
    wait_wound_up(redis_client, render.id, worker)  # the work files go after the status

    assert render.status == "failed" and render.attempts == 2, worker.log_tail()
    assert render.error.startswith(IMAGE_ENGINE_FAILED) and "Nothing more will be charged" in render.error
    assert [step for step, _ in step_metrics(render.id)] == ["speech"]  # the narration was made, nothing else
    assert not (render_dir(render.tenant_id, render.id) / "work").exists()
    assert_counters_match_ledger(redis_client, render.tenant_id, render.period)
    assert_reservation_released(redis_client, render.tenant_id, render.id)


def test_an_unsupported_language_is_spoken_in_english_and_the_render_says_so(
    session: Session, principal: Principal, chaos_worker: Callable[..., WorkerHandle],
) -> None:
    # Requests naming a voice outside the registry are refused (422, tests/integration/api); what is left
    # is a render queued with a voice the engine no longer has (an upgrade dropped it): it must still run.
    render_id = submit(session, principal, scenes=SCENES[:1])
    session.exec(update(Render).where(col(Render.id) == render_id).values(voice="tlh-klingon"))
    session.commit()
    render = wait_terminal(render_id, chaos_worker())

    assert render.status == "succeeded", render.error
    assert render.notes == "Voice 'tlh-klingon' is not available; English was used."
    assert charges(render.id)[("speech", "tts_seconds")] > 0


def test_without_a_speech_engine_the_second_engine_is_used_recorded_and_not_charged(
    session: Session, principal: Principal, chaos_worker: Callable[..., WorkerHandle], redis_client: redis.Redis,
) -> None:
    worker = chaos_worker(CHAOS_SPEECH="no-engine")
    render = wait_terminal(submit(session, principal, scenes=SCENES[:2]), worker)
    wait_wound_up(redis_client, render.id, worker)  # the work files go after the status

    assert render.status == "succeeded", (render.error, worker.log_tail())
    assert "speech engine was unavailable" in render.notes and "no speech was charged" in render.notes
    assert charges(render.id)[("speech", "tts_seconds")] == 0
    assert render.duration_seconds and render.duration_seconds > 1  # scenes timed to their text
    assert "espeak-ng is unavailable" in worker.log_tail(200)
    assert_reservation_released(redis_client, render.tenant_id, render.id)


def test_a_stuck_ffmpeg_is_killed_at_the_step_timeout_and_the_retry_succeeds(
    session: Session, principal: Principal, chaos_worker: Callable[..., WorkerHandle], redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    worker = chaos_worker(FFMPEG_BINARY=str(_stuck_once_ffmpeg(tmp_path)), RENDER_STEP_TIMEOUT_SECONDS="3")
    render = wait_terminal(submit(session, principal, scenes=SCENES[:1]), worker)
    wait_wound_up(redis_client, render.id, worker)  # the work files go after the status

    assert render.status == "succeeded", (render.error, worker.log_tail())
    assert render.attempts == 2 and (tmp_path / "ffmpeg-hung-once").exists()
    assert sorted(step_metrics(render.id)) == sorted(set(step_metrics(render.id)))
    wait_until(lambda: not render_processes(render.id), 10, "the stuck ffmpeg to be gone", worker)
    assert not list(render_dir(render.tenant_id, render.id).glob("*.tmp.*"))
    assert_counters_match_ledger(redis_client, render.tenant_id, render.period)


def test_a_step_retried_after_its_work_horse_was_killed_is_charged_once(
    session: Session, principal: Principal, chaos_worker: Callable[..., WorkerHandle], redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    worker = chaos_worker(CHAOS_IMAGES="slow:0.7")
    render_id = submit(session, principal)
    wait_step(render_id, "images", "running", worker)
    wait_until(lambda: load_steps(render_id)["images"].progress > 0, 30, "an image drawn", worker)
    horse = next(p for p in worker.descendants() if os.getpgid(p.pid) == p.pid)
    os.kill(horse.pid, signal.SIGKILL)  # mid-step: speech is done and charged, images half made
    render = wait_terminal(render_id, worker, timeout=120)
    wait_wound_up(redis_client, render.id, worker)  # the work files go after the status

    assert render.status == "succeeded", (render.error, worker.log_tail())
    assert render.attempts == 2
    assert sorted(step_metrics(render.id)) == sorted(set(step_metrics(render.id)))  # speech charged once
    assert charges(render.id)[("images", "images_count")] == len(SCENES)
    assert_counters_match_ledger(redis_client, render.tenant_id, render.period)
    assert_reservation_released(redis_client, render.tenant_id, render.id)
