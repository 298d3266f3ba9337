"""A worker killed, stopped or left with a Redis that lost its data: renders still finish once.

Real worker processes (`python -m saas_app.jobs.worker`), real ffmpeg behind a slow wrapper,
and, for the data loss, a redis-server of the test's own restarted without its data.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import redis
from render_jobs import (
    SCENES,
    OwnRedis,
    WorkerHandle,
    assert_reservation_released,
    fake_ffmpeg,
    ledger_rows,
    load_render,
    sign_in_principal,
    step_metrics,
    submit,
    wait_step,
    wait_terminal,
    wait_until,
    wait_worker_idle,
)
from rq import Worker as RqWorker
from rq.suspension import suspend
from sqlmodel import Session

from saas_app.dev import processes
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.queue import get_queue, get_rq_connection
from saas_app.services.renders.steps.registry import STEPS, metrics_charged

pytestmark = pytest.mark.db

ABANDONED_TIMEOUT = 90.0  # the promise is a minute; a loaded machine gets slack


def _the_work_horse(worker: WorkerHandle) -> psutil.Process:
    """The forked work-horse: a descendant of the worker leading its own process group."""
    def horse() -> psutil.Process | None:
        for proc in worker.descendants():
            try:
                if os.getpgid(proc.pid) == proc.pid != worker.pid:
                    return proc
            except ProcessLookupError:
                continue
        return None
    return wait_until(horse, 20, "the work-horse", worker)  # type: ignore[return-value]


def _charged_once(render_id: str) -> None:
    pairs = step_metrics(render_id)
    assert sorted(pairs) == sorted(set(pairs)), pairs  # one ledger row per (step, metric)
    assert {step for step, _ in pairs} == {s.name for s in STEPS if metrics_charged(s)}, pairs


def test_sigterm_lets_the_running_render_finish(
    session: Session, principal: Principal, start_render_worker: Callable[..., WorkerHandle], tmp_path: Path,
) -> None:
    worker = start_render_worker(FFMPEG_BINARY=str(fake_ffmpeg(tmp_path, "slow-ffmpeg", sleep=3)),
                                 WORKER_SHUTDOWN_GRACE_SECONDS="60")
    render_id = submit(session, principal, scenes=SCENES[:1])
    wait_step(render_id, "video", "running", worker)

    worker.proc.send_signal(signal.SIGTERM)

    assert wait_terminal(render_id, worker).status == "succeeded"
    wait_until(lambda: worker.proc.poll() is not None, 30, "the worker to exit after its render", worker)
    assert worker.proc.returncode == 0, worker.log_tail()
    _charged_once(render_id)


def test_sigterm_hands_back_a_render_that_outlasts_the_grace_and_another_worker_finishes_it(
    session: Session, principal: Principal, start_render_worker: Callable[..., WorkerHandle],
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    first = start_render_worker(FFMPEG_BINARY=str(fake_ffmpeg(tmp_path, "slow-ffmpeg", sleep=600)),
                                WORKER_SHUTDOWN_GRACE_SECONDS="2", RENDER_MAX_RETRIES="0")
    render_id = submit(session, principal, scenes=SCENES[:2])
    wait_step(render_id, "video", "running", first)
    horse = _the_work_horse(first)

    first.proc.send_signal(signal.SIGTERM)

    wait_until(lambda: first.proc.poll() is not None, 30, "the worker to stop after its grace", first)
    assert first.proc.returncode == 0, first.log_tail()
    assert not horse.is_running() or horse.status() == psutil.STATUS_ZOMBIE
    assert "handed back" in first.log_tail(200)
    assert load_render(render_id).status not in ("failed", "canceled")  # no retry was left to use up

    second = start_render_worker(FFMPEG_BINARY="")
    render = wait_terminal(render_id, second)
    assert render.status == "succeeded", (render.error, second.log_tail())
    assert render.attempts == 2
    _charged_once(render_id)
    assert_reservation_released(redis_client, render.tenant_id, render_id)


def test_a_job_queued_just_after_an_idle_worker_was_killed_is_not_lost(
    session: Session, principal: Principal, start_render_worker: Callable[..., WorkerHandle],
) -> None:
    first = start_render_worker()
    wait_worker_idle(first)  # blocked in BLPOP, its scheduler forked beside it

    first.proc.send_signal(signal.SIGKILL)
    render_id = submit(session, principal, scenes=SCENES[:1])  # Redis must not hand it to the dead reader

    second = start_render_worker()
    assert wait_terminal(render_id, second).status == "succeeded"


def test_a_killed_worker_takes_its_horse_and_the_render_is_retried_within_a_minute(
    session: Session, principal: Principal, start_render_worker: Callable[..., WorkerHandle],
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    first = start_render_worker(FFMPEG_BINARY=str(fake_ffmpeg(tmp_path, "slow-ffmpeg", sleep=600)))
    render_id = submit(session, principal, scenes=SCENES[:1])
    wait_step(render_id, "video", "running", first)
    horse = _the_work_horse(first)

    first.proc.send_signal(signal.SIGKILL)  # the worker's main process, not the horse

    wait_until(lambda: not horse.is_running() or horse.status() == psutil.STATUS_ZOMBIE, 10,
               "the work-horse to die with its worker")
    second = start_render_worker(FFMPEG_BINARY="")
    render = wait_terminal(render_id, second, timeout=ABANDONED_TIMEOUT)
    assert render.status == "succeeded", (render.error, second.log_tail())
    assert render.attempts == 2  # RQ's cleanup of the started-job registry retried the abandoned job
    _charged_once(render_id)
    assert_reservation_released(redis_client, render.tenant_id, render_id)


def test_a_killed_worker_with_no_retry_left_fails_the_render_plainly_and_frees_the_slot(
    session: Session, principal: Principal, start_render_worker: Callable[..., WorkerHandle],
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    first = start_render_worker(FFMPEG_BINARY=str(fake_ffmpeg(tmp_path, "slow-ffmpeg", sleep=600)),
                                RENDER_MAX_RETRIES="0")
    render_id = submit(session, principal, scenes=SCENES[:1])
    wait_step(render_id, "video", "running", first)

    first.proc.send_signal(signal.SIGKILL)

    second = start_render_worker(FFMPEG_BINARY="")
    render = wait_terminal(render_id, second, timeout=ABANDONED_TIMEOUT)
    assert render.status == "failed"
    assert "Nothing more will be charged" in render.error, render.error
    assert_reservation_released(redis_client, render.tenant_id, render_id)
    again = submit(session, principal, scenes=SCENES[:1])  # free plan: one at a time, so the slot is free
    assert wait_terminal(again, second).status == "succeeded"


def test_renders_lost_with_redis_data_are_requeued_and_finish_without_a_manual_step(
    session: Session, principal: Principal, mailbox: MailCatcher, redis_client: redis.Redis,
    own_redis: OwnRedis, start_render_worker: Callable[..., WorkerHandle],
) -> None:
    other = sign_in_principal(session, mailbox, redis_client, "second@example.com")
    worker = start_render_worker()
    wait_worker_idle(worker)
    connection = get_rq_connection()
    suspend(connection)  # so the jobs stay queued until Redis loses them
    get_queue("default").enqueue("math.floor", 1.5)  # RQ looks at the suspension between jobs
    wait_until(lambda: [w.get_state() for w in RqWorker.all(connection=connection)] == ["suspended"], 30,
               "the worker to notice the suspension", worker)
    lost = [submit(session, p, scenes=SCENES[:1]) for p in (principal, other)]

    own_redis.stop()
    own_redis.start(keep_data=False)  # queue, counters, slots and the suspension are gone; the worker lives on

    for render_id in lost:
        render = wait_terminal(render_id, worker, timeout=90)
        assert render.status == "succeeded", (render.error, worker.log_tail())
        assert len([r for r in ledger_rows(render_id) if r.metric == "images_count"]) == 1
    assert worker.proc.poll() is None
    again = submit(session, principal, scenes=SCENES[:1])  # no stale slot: the free plan's one slot is free
    assert wait_terminal(again, worker).status == "succeeded"


def test_the_liveness_probe_sees_a_live_worker_on_this_host(
    start_render_worker: Callable[..., WorkerHandle],
) -> None:
    probe = [processes.PYTHON, "-m", "saas_app.jobs.worker", "--alive"]
    env = processes.project_env()
    assert subprocess.run(probe, env=env, cwd=processes.PROJECT_ROOT).returncode == 1  # none yet

    worker = start_render_worker()
    wait_worker_idle(worker)

    assert subprocess.run(probe, env=env, cwd=processes.PROJECT_ROOT).returncode == 0
