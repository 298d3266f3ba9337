"""The chaos suite: real faults (processes killed, servers stopped, a size-limited disk filled, faulty
engines plugged in through the step registry) against real workers, Redis, SQL, SMTP and Stripe.

Every test here is marked `chaos` (and `db`); `make test` runs them in its default pass, and
`pytest -m chaos` runs only them. The render job helpers of tests/integration/jobs are reused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
JOBS = HERE.parent / "integration" / "jobs"
sys.path.insert(0, str(JOBS))

import redis  # noqa: E402
from render_jobs import WorkerHandle, sign_in_principal, stop_worker  # noqa: E402
from sqlmodel import Session  # noqa: E402

from saas_app.dev import processes  # noqa: E402
from saas_app.dev.mailcatcher import MailCatcher  # noqa: E402
from saas_app.services.auth.sessions import Principal  # noqa: E402
from saas_app.settings import PROJECT_ROOT, get_settings  # noqa: E402

FAST_RETRIES = {"RENDER_RETRY_DELAYS": "1,1", "RENDER_MAX_RETRIES": "1"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.chaos)


@pytest.fixture(autouse=True)
def _settings_follow_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings a test changes (environment + cache_clear) are put back afterwards; a worker's backups
    and exports stay inside the run's folder."""
    run_dir = Path(os.environ["STORAGE_DIR"]).parent
    for name, folder in (("USAGE_LOG_DIR", "usage"), ("BACKUP_DIR", "backups"), ("EXPORT_DIR", "exports")):
        if name not in os.environ:
            monkeypatch.setenv(name, str(run_dir / folder))
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def chaos_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., WorkerHandle]]:
    """`chaos_worker(**env)`: a real worker (`python -m chaos_worker`) with FAST_RETRIES plus `env`
    (CHAOS_* faults and settings), also applied to this process; all stopped after the test."""
    started: list[WorkerHandle] = []

    def start(**overrides: str) -> WorkerHandle:
        for name, value in {**FAST_RETRIES, **overrides}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        env = processes.project_env({"PYTHONPATH": os.pathsep.join([str(HERE), str(PROJECT_ROOT)])})
        log_path = tmp_path / "logs" / f"chaos-worker-{time.monotonic_ns()}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            proc = subprocess.Popen([processes.PYTHON, "-m", "chaos_worker"], cwd=PROJECT_ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        worker = WorkerHandle(proc, log_path, env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        stop_worker(worker)


@pytest.fixture
def principal(session: Session, mailbox: MailCatcher, redis_client: redis.Redis) -> Principal:
    """A user signed in through the magic-link service (free plan, own tenant)."""
    return sign_in_principal(session, mailbox, redis_client, "chaos@example.com")
