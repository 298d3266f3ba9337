"""Fixtures for render jobs run by a real RQ worker process (`python -m saas_app.jobs.worker`).

The worker gets this process's environment (same database, Redis DB, STORAGE_DIR and
USAGE_LOG_DIR), plus short retry delays; a test that needs other settings starts its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from render_jobs import (
    OwnRedis,
    WorkerHandle,
    sign_in_principal,
    start_worker,
    stop_worker,
)
from sqlmodel import Session

from saas_app.dev.mailcatcher import MailCatcher
from saas_app.services.auth.sessions import Principal
from saas_app.settings import get_settings

FAST_RETRIES = {"RENDER_RETRY_DELAYS": "1,1", "RENDER_MAX_RETRIES": "2"}


@pytest.fixture(autouse=True)
def _settings_follow_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings changed by a test (env + cache_clear) are restored for the next test.

    Also keeps every directory a worker writes to inside the test run when tests/conftest.py
    does not pin it: the worker's maintenance job takes a backup at start-up (into BACKUP_DIR,
    by default the project's var/backups) and expires exports.
    """
    run_dir = Path(os.environ["STORAGE_DIR"]).parent
    for name, folder in (("USAGE_LOG_DIR", "usage"), ("BACKUP_DIR", "backups"), ("EXPORT_DIR", "exports")):
        if name not in os.environ:
            monkeypatch.setenv(name, str(run_dir / folder))
    get_settings.cache_clear()
    yield
    monkeypatch.undo()  # restore the environment first, then forget settings built from the test's
    get_settings.cache_clear()


@pytest.fixture
def start_render_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., WorkerHandle]]:
    """`start_render_worker(**env)`: a worker with FAST_RETRIES plus `env`; all stopped after the test.

    The settings are applied to this process too: the retry policy and job timeout are fixed
    when the job is queued (here), the step timeout and ffmpeg path where it runs (the worker).
    """
    started: list[WorkerHandle] = []

    def start(**overrides: str) -> WorkerHandle:
        for name, value in {**FAST_RETRIES, **overrides}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        worker = start_worker(tmp_path / "logs")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        stop_worker(worker)


@pytest.fixture
def worker(start_render_worker: Callable[..., WorkerHandle]) -> WorkerHandle:
    """A worker with the default test settings."""
    return start_render_worker()


@pytest.fixture
def principal(session: Session, mailbox: MailCatcher, redis_client: redis.Redis) -> Principal:
    """A user signed in through the magic-link service (free plan, own tenant)."""
    return sign_in_principal(session, mailbox, redis_client, "renderer@example.com")


@pytest.fixture
def own_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnRedis]:
    """The app (this process, and workers started afterwards) pointed at an own redis-server."""
    server = OwnRedis(tmp_path)
    server.start()
    monkeypatch.setenv("REDIS_URL", server.url)
    get_settings.cache_clear()
    yield server
    server.stop()
