"""Faults around a render and around sign-in and billing: a full disk, a full queue, Redis and
PostgreSQL restarted mid-render (servers of the test's own: the shared 6379 and 5432 are never
touched), the mail server down, the Stripe API down."""

from __future__ import annotations

import errno
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from factories import clear_rate_limits, queued_render_jobs, render_payload, render_rows, sign_in_headers, submit_render
from fastapi.testclient import TestClient
from render_jobs import (
    SCENES,
    OwnRedis,
    WorkerHandle,
    assert_counters_match_ledger,
    assert_reservation_released,
    charges,
    fake_ffmpeg,
    sign_in_principal,
    step_metrics,
    submit,
    wait_step,
    wait_terminal,
    wait_wound_up,
)
from shared_helpers import SettingsOverride
from sqlmodel import Session, select
from stripe_server import StripeServer, app_env

from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import AuditLog, Tenant
from saas_app.services.auth.sessions import Principal
from saas_app.services.renders.files import render_dir
from saas_app.services.renders.steps.video import DISK_FULL
from saas_app.settings import get_settings

pytestmark = pytest.mark.db
DISK_BYTES = 24 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def small_disk(tmp_path: Path, app_settings: SettingsOverride) -> Iterator[Path]:
    """STORAGE_DIR on a tmpfs of DISK_BYTES of this test's own (mounted as root, unmounted after)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here: {done.stderr.strip()}")
    app_settings.set(STORAGE_DIR=mount, MIN_FREE_DISK_MB=0)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    """Write zeros until the disk is full."""
    chunk = bytes(256 * 1024)
    with (folder / "filler.bin").open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


def test_a_full_disk_during_the_video_step_fails_plainly_and_leaves_no_partial_file(
    small_disk: Path, session: Session, principal: Principal, chaos_worker: Callable[..., WorkerHandle],
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    # The video step starts ffmpeg two seconds late, so the disk is full when it writes.
    worker = chaos_worker(STORAGE_DIR=str(small_disk), MIN_FREE_DISK_MB="0",
                          FFMPEG_BINARY=str(fake_ffmpeg(tmp_path, "late-ffmpeg", sleep=2)))
    render_id = submit(session, principal, scenes=SCENES[:1])
    wait_step(render_id, "video", "running", worker)
    _fill(small_disk)
    render = wait_terminal(render_id, worker)
    wait_wound_up(redis_client, render.id, worker)  # partial files go after the status

    assert render.status == "failed", worker.log_tail()
    assert render.attempts == 1  # retrying on the same full disk would not help
    assert render.error.startswith(DISK_FULL)
    folder = render_dir(render.tenant_id, render.id)
    assert not list(folder.glob("video*")) and not list(folder.glob("*.tmp.*"))  # no partial file
    assert "render_minutes" not in {metric for _, metric in step_metrics(render.id)}
    assert_reservation_released(redis_client, render.tenant_id, render.id)


def test_a_full_queue_answers_429_with_an_eta_and_queues_nothing(
    api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis, app_settings: SettingsOverride,
) -> None:
    app_settings.set(MAX_QUEUE_DEPTH=1)
    first, _ = sign_in_headers(api, mailbox, "first@example.com")
    clear_rate_limits(redis_client)
    second, other = sign_in_headers(api, mailbox, "second@example.com")
    submit_render(api, first)  # no worker: it waits in the queue

    refused = api.post("/api/renders", json=render_payload(), headers=second)

    assert refused.status_code == 429, refused.text
    eta = int(refused.headers["Retry-After"])
    assert eta > 0 and refused.json()["retry_after"] == eta
    assert "busy" in refused.json()["message"] and f"about {eta} seconds" in refused.json()["message"]
    assert render_rows(other["tenant_id"]) == [] and len(queued_render_jobs()) == 1


def test_redis_restarted_mid_render_the_render_finishes_and_is_charged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mailbox: MailCatcher,
    chaos_worker: Callable[..., WorkerHandle], migrated_db: object,
) -> None:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        monkeypatch.setenv("REDIS_URL", server.url)
        get_settings.cache_clear()
        own = redis.Redis.from_url(server.url, decode_responses=True)
        with Session(get_engine()) as session:
            principal = sign_in_principal(session, mailbox, own, "redis-restart@example.com")
            render_id = submit(session, principal, scenes=SCENES[:1])
        worker = chaos_worker(REDIS_URL=server.url,
                              FFMPEG_BINARY=str(fake_ffmpeg(tmp_path, "slow-ffmpeg", realtime=True)))
        wait_step(render_id, "video", "running", worker)
        server.stop()  # Redis goes away while ffmpeg encodes (its data is kept on disk) ...
        server.start()  # ... and comes back
        render = wait_terminal(render_id, worker, timeout=120)
        wait_wound_up(own, render.id, worker)  # usage is published after the status

        assert render.status == "succeeded", (render.error, worker.log_tail())
        assert sorted(step_metrics(render.id)) == sorted(set(step_metrics(render.id)))
        assert_counters_match_ledger(own, render.tenant_id, render.period)
        assert_reservation_released(own, render.tenant_id, render.id)
    finally:
        server.stop()


class OwnPostgres:
    """A PostgreSQL cluster of this test's own (initdb/pg_ctl, run as the `postgres` user)."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found or shutil.which("runuser") is None:
            pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
        self.bin, self.port = found[-1].parent, _free_port()
        # Outside pytest's tmp folders, which only root may enter; the server runs as `postgres`.
        self.root = Path(tempfile.mkdtemp(prefix="chaos-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.data.mkdir()
        shutil.chown(self.data, "postgres")
        self._as_postgres(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: object) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], check=True, capture_output=True,
                       cwd="/tmp")

    def start(self) -> None:
        self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-w", "-l", self.data / "server.log", "-o",
                          f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")


@pytest.fixture
def own_postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnPostgres]:
    """The app (this process and workers started afterwards) on a migrated PostgreSQL of its own."""
    from alembic import command
    from shared_helpers import alembic_config

    server = OwnPostgres()
    server.start()
    try:
        monkeypatch.setenv("DATABASE_URL", server.url)
        get_settings.cache_clear()
        command.upgrade(alembic_config(), "head")
        yield server
    finally:
        get_engine().dispose()
        subprocess.run(["runuser", "-u", "postgres", "--", str(server.bin / "pg_ctl"), "-D", str(server.data),
                        "-m", "immediate", "stop"], capture_output=True, cwd="/tmp")
        shutil.rmtree(server.root, ignore_errors=True)


def test_postgres_restarted_mid_render_the_render_resumes_and_is_charged_once(
    own_postgres: OwnPostgres, mailbox: MailCatcher, redis_client: redis.Redis,
    chaos_worker: Callable[..., WorkerHandle], tmp_path: Path,
) -> None:
    with Session(get_engine()) as session:
        principal = sign_in_principal(session, mailbox, redis_client, "pg-restart@example.com")
        render_id = submit(session, principal, scenes=SCENES[:1])
    worker = chaos_worker(DATABASE_URL=own_postgres.url, RENDER_MAX_RETRIES="3", RENDER_RETRY_DELAYS="2,4,8",
                          FFMPEG_BINARY=str(fake_ffmpeg(tmp_path, "slow-ffmpeg", realtime=True)))
    wait_step(render_id, "video", "running", worker)
    own_postgres.stop()  # the database goes away while ffmpeg encodes (its progress writes fail) ...
    own_postgres.start()  # ... and comes back
    get_engine().dispose()
    render = wait_terminal(render_id, worker, timeout=120)
    wait_wound_up(redis_client, render.id, worker)  # usage is published after the status

    assert render.status == "succeeded", (render.error, worker.log_tail())
    assert sorted(step_metrics(render.id)) == sorted(set(step_metrics(render.id)))  # each charge once
    assert charges(render.id)[("speech", "tts_seconds")] > 0
    assert_counters_match_ledger(redis_client, render.tenant_id, render.period)
    assert_reservation_released(redis_client, render.tenant_id, render.id)


def test_smtp_down_during_sign_in_is_a_clear_503_and_uses_up_no_limit(
    api: TestClient, redis_client: redis.Redis, app_settings: SettingsOverride, tmp_path: Path,
) -> None:
    port = _free_port()
    app_settings.set(SMTP_PORT=port, RATE_EMAIL_PER_MINUTE=1)
    email = {"email": "smtp-down@example.com"}

    refused = api.post("/api/auth/magic-link/request", json=email)  # nothing listens on the port

    assert refused.status_code == 503, refused.text
    assert "couldn't send the email" in refused.json()["message"] and int(refused.headers["Retry-After"]) > 0
    assert all(int(redis_client.get(key) or 0) == 0 for key in redis_client.keys("rl:*"))
    catcher = MailCatcher("127.0.0.1", port, mail_dir=tmp_path / "mail", echo=False)
    catcher.start()  # the mail server is back: the one email a minute is still there to use
    try:
        assert api.post("/api/auth/magic-link/request", json=email).status_code == 202
        assert len(catcher.messages()) == 1
        assert api.post("/api/auth/magic-link/request", json=email).status_code == 429
    finally:
        catcher.stop()


def test_the_stripe_api_down_during_checkout_is_a_plain_502_and_nothing_is_written(
    api: TestClient, mailbox: MailCatcher, app_settings: SettingsOverride,
) -> None:
    stripe = StripeServer()
    app_settings.set(**app_env(stripe.start()))
    headers, me = sign_in_headers(api, mailbox, "stripe-down@example.com")
    stripe.stop()  # the payment provider goes away

    down = api.post("/api/billing/checkout", json={"plan": "pro"}, headers=headers)

    assert down.status_code == 502, down.text
    assert "couldn't reach our payment provider" in down.json()["message"]
    with Session(get_engine()) as fresh:
        tenant = fresh.get(Tenant, me["tenant_id"])
        assert tenant is not None and tenant.stripe_customer_id is None
        assert not fresh.exec(select(AuditLog).where(AuditLog.action == "billing.checkout_started")).all()
    back = StripeServer()
    app_settings.set(**app_env(back.start()))
    try:  # the provider is back: the same checkout works
        assert api.post("/api/billing/checkout", json={"plan": "pro"}, headers=headers).status_code == 200
    finally:
        back.stop()
