"""Deleting a workspace while one of its renders runs (a real worker, a slow step plugged in through
the step registry): the purge stops the render and waits for it, the pipeline writes nothing for a
tenant whose deletion is due, and afterwards nothing of the tenant remains anywhere."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import slow_step
from factories import redis_snapshot, rows_mentioning
from render_jobs import (
    SCENES,
    WorkerHandle,
    charges,
    counters,
    jsonl_lines,
    load_render,
    stop_worker,
    submit,
    wait_step,
    wait_until,
    wait_worker_idle,
)
from rq.exceptions import InvalidJobOperation
from rq.job import Job, JobStatus
from sqlmodel import Session

from saas_app.dev import processes
from saas_app.jobs.maintenance import _LOCK_KEY as MAINTENANCE_LOCK
from saas_app.models import AccountDeletion, utcnow
from saas_app.services.account.deletion import purge_due_deletions
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.queue import DEFAULT, MAINTENANCE_JOB, get_queue, get_rq_connection, render_job_id
from saas_app.settings import PROJECT_ROOT, get_settings

pytestmark = pytest.mark.db

HERE = Path(__file__).resolve().parent
ENDED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


@pytest.fixture
def slow_worker(tmp_path: Path) -> Iterator[Callable[[], WorkerHandle]]:
    """`slow_worker()`: a real worker that registered the slow step (`python -m slow_step`)."""
    started: list[WorkerHandle] = []

    def start() -> WorkerHandle:
        env = processes.project_env({"PYTHONPATH": os.pathsep.join([str(HERE), str(PROJECT_ROOT)]),
                                     slow_step.RELEASE_ENV: str(tmp_path / "release")})
        log_path = tmp_path / "logs" / f"slow-worker-{len(started)}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            proc = subprocess.Popen([processes.PYTHON, "-m", "slow_step"], cwd=PROJECT_ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        started.append(WorkerHandle(proc, log_path, env))
        return started[-1]

    yield start
    for worker in started:
        stop_worker(worker)


def _running_in_the_slow_step(session: Session, principal: Principal, start: Callable[[], WorkerHandle]
                              ) -> tuple[str, WorkerHandle]:
    with slow_step.registered():
        render_id = submit(session, principal, scenes=SCENES[:1])
    worker = start()
    wait_step(render_id, "hold", "running", worker)
    _hold_off_maintenance()
    return render_id, worker


def _hold_off_maintenance() -> None:
    """No maintenance pass (which purges due deletions too) runs during the test: each test
    purges by itself, so it sees what the render alone wrote or left."""
    connection = get_rq_connection()
    connection.set(MAINTENANCE_LOCK, "held by the test", ex=3600)
    for job in get_queue(DEFAULT).jobs:
        if job.func_name == MAINTENANCE_JOB:
            job.delete()


def _make_deletion_due(session: Session, principal: Principal) -> None:
    session.add(AccountDeletion(tenant_id=principal.tenant_id, requested_by=principal.user_id,
                                scheduled_for=utcnow() - timedelta(seconds=1)))
    session.commit()


def _release(worker: WorkerHandle) -> None:
    Path(worker.env[slow_step.RELEASE_ENV]).touch()


def _ended(job: Job) -> bool:
    try:
        return job.get_status(refresh=True) in ENDED
    except InvalidJobOperation:  # ended, and its result already expired
        return True


def _leftovers(principal: Principal, render_id: str) -> dict[str, object]:
    """Every trace of the tenant: rows, Redis keys, files (storage folder, usage log). The member's own
    account (user row, sign-in links, their audit rows outside any workspace) stays: only the workspace went."""
    needles = {principal.tenant_id, render_id}
    assert set(rows_mentioning({principal.user_id, principal.email})) <= {"user", "magiclink", "auditlog"}
    settings = get_settings()
    folders = [Path(settings.STORAGE_DIR) / principal.tenant_id, Path(settings.USAGE_LOG_DIR) / principal.tenant_id]
    return {"rows": rows_mentioning(needles), "redis": redis_snapshot(needles),
            "files": [str(p) for folder in folders if folder.exists() for p in folder.rglob("*")] +
                     [str(folder) for folder in folders if folder.exists()]}


NOTHING: dict[str, object] = {"rows": {}, "redis": {}, "files": []}


def test_deletion_stops_a_running_render_and_waits_for_it_then_nothing_of_the_tenant_remains(
    session: Session, principal: Principal, redis_client: redis.Redis,
    slow_worker: Callable[[], WorkerHandle],
) -> None:
    render_id, worker = _running_in_the_slow_step(session, principal, slow_worker)
    assert charges(render_id) and jsonl_lines(principal.tenant_id, load_render(render_id).period)
    _make_deletion_due(session, principal)

    assert purge_due_deletions(session=session) == 1  # stops the work-horse, waits for it, then purges

    _release(worker)  # a work-horse still running would now write a file and charge the hold step
    wait_worker_idle(worker)
    assert _leftovers(principal, render_id) == NOTHING, json.dumps(_leftovers(principal, render_id),
                                                                 default=str, indent=1)


def test_a_render_whose_workspace_deletion_is_due_writes_nothing_more(
    session: Session, principal: Principal, redis_client: redis.Redis,
    slow_worker: Callable[[], WorkerHandle],
) -> None:
    render_id, worker = _running_in_the_slow_step(session, principal, slow_worker)
    period = load_render(render_id).period
    before = (charges(render_id), jsonl_lines(principal.tenant_id, period),
              counters(redis_client, principal.tenant_id, period))
    _make_deletion_due(session, principal)

    _release(worker)  # the step ends; the pipeline must not store, charge, log or count anything more
    job = Job.fetch(render_job_id(render_id), connection=get_rq_connection())
    wait_until(lambda: _ended(job), 60, "the render job to end", worker)

    after = (charges(render_id), jsonl_lines(principal.tenant_id, period),
             counters(redis_client, principal.tenant_id, period))
    assert after == before
    assert load_render(render_id).status != "succeeded"
    assert purge_due_deletions(session=session) == 1
    assert _leftovers(principal, render_id) == NOTHING, json.dumps(_leftovers(principal, render_id),
                                                                 default=str, indent=1)
