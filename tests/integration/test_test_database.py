"""The test run never touches a database it did not create (issue 9, item 17)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from shared_helpers import NotATestDatabase, create_test_database, drop_test_database

from saas_app.dev import processes
from saas_app.settings import PROJECT_ROOT

PG_SERVER = os.environ.get("TEST_DATABASE_URL") or "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def precious_database() -> Iterator[str]:
    """A PostgreSQL database that is not a test database, holding one row nobody may lose."""
    server = sa.engine.make_url(PG_SERVER)
    name = f"precious_{secrets.token_hex(4)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (email text)"))
        conn.execute(sa.text("INSERT INTO customers VALUES ('keep@example.com')"))
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _rows(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.text("SELECT email FROM customers"))]
    finally:
        engine.dispose()


def _run_pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run one small db test file in a child pytest, on a private Redis server."""
    redis_proc = processes.start_redis_server(_free_port(), tmp_path / "redis")
    port = redis_proc.args[redis_proc.args.index("--port") + 1]
    child_env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "DATABASE_URL")}
    child_env.update(env, TEST_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    try:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/integration/api/test_health.py"],
            cwd=PROJECT_ROOT, env=child_env, capture_output=True, text=True, timeout=300, check=False)
    finally:
        processes.stop_all([redis_proc])


def test_an_exported_database_url_is_never_used_by_the_tests(precious_database: str, tmp_path: Path) -> None:
    result = _run_pytest(tmp_path, DATABASE_URL=precious_database)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _rows(precious_database) == ["keep@example.com"]


def test_a_test_database_url_that_names_no_test_database_is_refused(precious_database: str,
                                                                    tmp_path: Path) -> None:
    result = _run_pytest(tmp_path, TEST_DATABASE_URL=precious_database)
    assert result.returncode != 0
    assert "must be a PostgreSQL database whose name starts with 'test'" in result.stdout + result.stderr
    assert _rows(precious_database) == ["keep@example.com"]


@pytest.mark.parametrize("url", ["sqlite:///var/app.db", "postgresql+psycopg2://postgres@127.0.0.1:5432/studio"])
def test_only_postgresql_databases_named_test_are_accepted(url: str) -> None:
    with pytest.raises(NotATestDatabase):
        create_test_database(url)


def test_a_run_database_is_created_empty_and_dropped() -> None:
    url = create_test_database(PG_SERVER)
    name = sa.engine.make_url(url).database
    assert name is not None and name.startswith("test") and "_run_" in name
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
    engine.dispose()
    drop_test_database(url)
    admin = sa.create_engine(PG_SERVER)
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}).scalar() == 0
    admin.dispose()
    with pytest.raises(NotATestDatabase):
        drop_test_database(PG_SERVER)
