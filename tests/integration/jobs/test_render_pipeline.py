"""Renders run end to end by a real RQ worker: the output, metering exactly once, crashes, timeouts, cancels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from factories import CTX
from render_jobs import (
    SCENES,
    WorkerHandle,
    assert_counters_match_ledger,
    assert_reservation_released,
    charges,
    counters,
    fake_ffmpeg,
    jsonl_lines,
    ledger_by_key,
    ledger_rows,
    load_render,
    load_steps,
    render_processes,
    step_metrics,
    submit,
    wait_step,
    wait_terminal,
    wait_until,
    wait_wound_up,
)
from sqlmodel import Session

from saas_app.db import get_engine
from saas_app.models import Render
from saas_app.services.auth.sessions import Principal
from saas_app.services.renders import pipeline
from saas_app.services.renders import submission as renders
from saas_app.services.renders.files import render_dir
from saas_app.services.renders.input import RenderInput, SceneInput
from saas_app.services.renders.media import video
from saas_app.services.renders.status import StepStatus
from saas_app.services.renders.steps.registry import STEPS, metrics_charged
from saas_app.services.usage.metering import ceil_minutes
from saas_app.settings import PROJECT_ROOT

pytestmark = pytest.mark.db


def _charges_of(names: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """(step, metric) of every charge the named steps make, sorted."""
    return sorted((name, metric) for name in names for metric in metrics_charged(STEPS.get(name)))


ALL_CHARGES = _charges_of(STEPS.names())
BEFORE_VIDEO = STEPS.names()[:STEPS.names().index("video")]  # the steps a failed or canceled encode leaves done


def _narration_seconds(tmp_path: Path, texts: list[str], voice: str = "en") -> float:
    """Speak the same texts again in a fresh process, as a work-horse does: espeak-ng is
    deterministic from a fresh start, but keeps state across calls within one process (an
    earlier in-process render in this test run changes its timings by a few milliseconds)."""
    script = ("import json, sys; from pathlib import Path; from saas_app.services.renders.media import speech; "
              "texts, voice, folder = json.loads(sys.argv[1]), sys.argv[2], Path(sys.argv[3]); "
              "print(sum(speech.synthesize(text=t, voice=voice, out_path=folder / f'check_{i}.wav').seconds "
              "for i, t in enumerate(texts)))")
    result = subprocess.run([sys.executable, "-c", script, json.dumps(texts), voice, str(tmp_path)],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=120)
    return float(result.stdout.strip())


def _assert_metered_once(rc: redis.Redis, render: Render) -> None:
    """One ledger row per (step, metric), the same events in the JSONL log, counters = ledger sums."""
    wait_wound_up(rc, render.id)
    assert sorted(step_metrics(render.id)) == ALL_CHARGES
    ledger = ledger_by_key(render.id)
    lines = [line for line in jsonl_lines(render.tenant_id, render.period) if line["render_id"] == render.id]
    assert len(lines) == len(ledger)
    assert {line["event_key"]: line["amount"] for line in lines} == ledger
    assert_counters_match_ledger(rc, render.tenant_id, render.period)
    assert_reservation_released(rc, render.tenant_id, render.id)


# The happy path


def test_three_scene_render_makes_a_narrated_mp4_and_meters_each_step_once(
    session: Session, principal: Principal, worker: WorkerHandle, redis_client: redis.Redis, tmp_path: Path,
) -> None:
    render_id = submit(session, principal)
    render = wait_terminal(render_id, worker)
    assert render.status == "succeeded", (render.error, worker.log_tail())
    folder = render_dir(render.tenant_id, render.id)
    wait_wound_up(redis_client, render_id, worker)

    info = video.probe(folder / "video.mp4")
    charged = charges(render_id)
    narration = _narration_seconds(tmp_path, SCENES)
    assert charged[("speech", "tts_seconds")] == pytest.approx(narration, abs=0.01)
    assert abs(info.seconds - narration) <= 0.5, (info, narration)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (folder / "thumb.jpg").stat().st_size > 0
    assert not (folder / "work").exists()  # intermediate files are dropped when the render ends
    assert charged[("images", "images_count")] == 3
    assert load_steps(render_id)["images"].detail == "3 images"
    assert charged[("video", "render_minutes")] == ceil_minutes(render.duration_seconds)
    assert charged[("video", "storage_mb")] == pytest.approx(render.size_bytes / 1048576, abs=1e-5)
    assert {s.name: s.status for s in load_steps(render_id).values()} == dict.fromkeys(STEPS.names(), "done")
    _assert_metered_once(redis_client, render)


def test_rerunning_a_finished_render_charges_nothing_again(
    session: Session, principal: Principal, worker: WorkerHandle, redis_client: redis.Redis,
) -> None:
    render = wait_terminal(submit(session, principal, scenes=SCENES[:2]), worker)
    assert render.status == "succeeded", render.error
    rows_before = [(r.id, r.event_key, r.amount, r.logged_at) for r in ledger_rows(render.id)]
    log_before = jsonl_lines(render.tenant_id, render.period)
    counters_before = counters(redis_client, render.tenant_id, render.period)
    video_done_at = load_steps(render.id)["video"].finished_at
    folder = render_dir(render.tenant_id, render.id)
    (folder / "video.mp4").unlink()  # so the video step has to run again
    with Session(get_engine()) as s:  # as if the job were retried after a crash at the very end
        row = s.get(Render, render.id)
        assert row is not None
        row.status = "running"
        s.add(row)
        s.commit()

    assert pipeline.run_render(render_id=render.id, retries_left=0) == "succeeded"

    assert (folder / "video.mp4").exists()
    assert load_steps(render.id)["video"].finished_at != video_done_at  # it really ran again
    assert [(r.id, r.event_key, r.amount, r.logged_at) for r in ledger_rows(render.id)] == rows_before
    assert jsonl_lines(render.tenant_id, render.period) == log_before
    assert counters(redis_client, render.tenant_id, render.period) == counters_before
    _assert_metered_once(redis_client, load_render(render.id))


# Crashes, stuck encoders and cancels


def _the_work_horse(worker: WorkerHandle, render_id: str) -> int:
    """The pid of the work-horse running the render: the parent of the render's ffmpeg."""
    def find() -> int | None:
        procs = [p for p in render_processes(render_id) if p.pid in {d.pid for d in worker.descendants()}]
        return procs[0].ppid() if procs else None
    horse = wait_until(find, 10, "the render's ffmpeg to start", worker)
    assert horse != worker.pid and os.getpgid(horse) == horse  # RQ forks each job into its own group
    return int(horse)  # type: ignore[arg-type]


def test_a_killed_work_horse_is_retried_and_the_render_is_charged_once(
    session: Session, principal: Principal, start_render_worker: Callable[..., WorkerHandle],
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    slow = fake_ffmpeg(tmp_path, "slow-ffmpeg", sleep=3)
    worker = start_render_worker(FFMPEG_BINARY=str(slow))
    render_id = submit(session, principal, scenes=SCENES[:2])
    wait_step(render_id, "video", "running", worker)
    horse = _the_work_horse(worker, render_id)

    os.kill(horse, signal.SIGKILL)  # what the OOM killer does

    render = wait_terminal(render_id, worker)
    assert render.status == "succeeded", (render.error, worker.log_tail())
    assert render.attempts == 2
    assert "Work-horse terminated unexpectedly" in worker.log_tail(200)
    assert video.probe(render_dir(render.tenant_id, render_id) / "video.mp4").seconds > 1
    _assert_metered_once(redis_client, render)
    wait_until(lambda: not render_processes(render_id), 10, "the killed job's ffmpeg to end", worker)


def test_a_killed_work_horse_takes_its_ffmpeg_with_it(
    session: Session, principal: Principal, start_render_worker: Callable[..., WorkerHandle], tmp_path: Path,
) -> None:
    realtime = fake_ffmpeg(tmp_path, "realtime-ffmpeg", realtime=True)
    worker = start_render_worker(FFMPEG_BINARY=str(realtime))
    render_id = submit(session, principal, scenes=SCENES[:2])
    wait_until(lambda: load_steps(render_id)["video"].progress > 0, 30, "the encoder to make progress", worker)
    encoders = render_processes(render_id)
    horse = _the_work_horse(worker, render_id)

    os.kill(horse, signal.SIGKILL)
    try:
        gone = wait_until(lambda: not any(p.is_running() for p in encoders), 3, "ffmpeg to die with its horse")
    except AssertionError:
        gone = False
    finally:
        for proc in encoders:  # an orphan is no longer the worker's descendant: end it here
            if proc.is_running():
                proc.kill()
    assert gone, "the killed job's ffmpeg kept running (and writing video.tmp.mp4) after its work-horse died"


def test_a_stuck_ffmpeg_is_killed_at_the_step_timeout_and_the_render_fails_plainly(
    session: Session, principal: Principal, start_render_worker: Callable[..., WorkerHandle],
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    stuck = fake_ffmpeg(tmp_path, "stuck-ffmpeg", forever=True)
    # The job timeout is far away, so only the 2 s step timeout can end the stuck ffmpeg (and its retry).
    worker = start_render_worker(FFMPEG_BINARY=str(stuck), RENDER_STEP_TIMEOUT_SECONDS="2", RENDER_MAX_RETRIES="1",
                                 RENDER_RETRY_DELAYS="1", RENDER_JOB_TIMEOUT_SECONDS="600")
    render_id = submit(session, principal, scenes=SCENES[:1])

    first = wait_until(lambda: render_processes(render_id), 30, "the stuck ffmpeg to start", worker)
    wait_until(lambda: not any(p.is_running() for p in first), 120, "the stuck ffmpeg to be killed", worker)
    render = wait_terminal(render_id, worker)
    wait_wound_up(redis_client, render_id, worker)

    assert render.status == "failed"
    assert "took too long" in render.error and "Traceback" not in render.error, render.error
    assert render.attempts == 2  # retried once, then given up
    assert sorted(step_metrics(render_id)) == _charges_of(BEFORE_VIDEO)
    assert not (render_dir(render.tenant_id, render_id) / "video.mp4").exists()
    assert load_steps(render_id)["video"].status == "failed"
    assert_counters_match_ledger(redis_client, render.tenant_id, render.period)
    assert_reservation_released(redis_client, render.tenant_id, render_id)
    assert not render_processes(render_id)


def test_cancel_stops_the_encoder_promptly_and_releases_the_reservation(
    session: Session, principal: Principal, start_render_worker: Callable[..., WorkerHandle],
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    # An encoder that reports progress and never ends by itself: only the cancel can stop it.
    endless = fake_ffmpeg(tmp_path, "endless-ffmpeg", progress_forever=True)
    worker = start_render_worker(FFMPEG_BINARY=str(endless), RENDER_STEP_TIMEOUT_SECONDS="600",
                                 RENDER_JOB_TIMEOUT_SECONDS="900")
    render_id = submit(session, principal)
    wait_until(lambda: load_steps(render_id)["video"].progress > 0, 30, "the encoder to make progress", worker)
    encoders = render_processes(render_id)
    assert encoders

    renders.cancel_render(session=session, principal=principal, render_id=render_id, ctx=CTX)
    wait_until(lambda: not any(p.is_running() for p in encoders), 60, "ffmpeg to stop after the cancel", worker)

    render = wait_until(lambda: (r := load_render(render_id)).status == "canceled" and r, 5, "canceled", worker)
    assert {s.name: s.status for s in load_steps(render_id).values()} == {
        name: StepStatus.DONE if name in BEFORE_VIDEO else StepStatus.CANCELED for name in STEPS.names()}
    assert sorted(step_metrics(render_id)) == _charges_of(BEFORE_VIDEO)
    folder = render_dir(render.tenant_id, render_id)
    wait_wound_up(redis_client, render_id, worker)
    assert not (folder / "work").exists()
    assert not list(folder.glob("video*"))
    assert_counters_match_ledger(redis_client, render.tenant_id, render.period)
    assert_reservation_released(redis_client, render.tenant_id, render_id)


def test_a_voice_the_engine_cannot_load_falls_back_to_english_and_says_so(
    session: Session, principal: Principal, worker: WorkerHandle, tmp_path: Path,
) -> None:
    # Requests name only listed voices (the validator refuses others); a row stored before that
    # check, or a listed voice missing from espeak-ng's data, still renders, in English.
    listed = RenderInput(topic="Why bees matter", scenes=[SceneInput(text=SCENES[0])])
    request = listed.model_copy(update={"voice": "tlh-klingon"})  # model_copy does not validate
    created = renders.create_render(session=session, principal=principal, request=request, ctx=CTX)
    render = wait_terminal(created.id, worker)

    assert render.status == "succeeded", render.error
    assert render.notes == "Voice 'tlh-klingon' is not available; English was used."
    assert load_steps(render.id)["images"].detail == "1 image"
    english = _narration_seconds(tmp_path, SCENES[:1], voice="en")
    assert charges(render.id)[("speech", "tts_seconds")] == pytest.approx(english, abs=0.01)
