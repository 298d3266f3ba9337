"""Database backups: real round trips (SQLite online backup, pg_dump/pg_restore), retention, schedule, status."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from factories import make_tenant, make_user, sign_in_headers, tenant_id_of
from fastapi.testclient import TestClient
from shared_helpers import SettingsOverride, alembic_config
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.jobs import backup_cli
from saas_app.jobs.maintenance import run_maintenance
from saas_app.models import AccountDeletion, DataExport, Tenant, User, UserDeletion, utcnow
from saas_app.services.account import backups
from saas_app.services.account.exports import export_path
from saas_app.settings import PROJECT_ROOT, get_settings

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("account_dirs")]

IS_POSTGRES = get_settings().DATABASE_URL.startswith("postgresql")
STAMP = "%Y%m%dT%H%M%SZ"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m saas_app.jobs.backup_cli ...` in a child process with this test's environment."""
    return subprocess.run([sys.executable, "-m", "saas_app.jobs.backup_cli", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def _fake_backup(taken: datetime, suffix: str = ".sqlite3") -> Path:
    path = backups.backup_dir() / f"backup-{taken.strftime(STAMP)}{suffix}"
    path.write_bytes(b"not a real backup")
    return path


def _emails(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text('SELECT email FROM "user"')).scalars())
    finally:
        engine.dispose()


def _change_data(kept: str, added: str) -> None:
    with Session(get_engine()) as s:
        user = s.exec(select(User).where(User.email == kept)).one()
        user.email = "renamed@example.com"
        s.add(user)
        s.commit()
        make_user(s, email=added)


@pytest.fixture
def sqlite_source(app_settings: SettingsOverride, tmp_path: Path) -> str:
    """A migrated SQLite DATABASE_URL: the test database, or (on a PostgreSQL run) a scratch file."""
    if get_settings().is_sqlite:
        return get_settings().DATABASE_URL
    url = f"sqlite:///{tmp_path / 'source.db'}"
    app_settings.set(DATABASE_URL=url)
    command.upgrade(alembic_config(), "head")
    return url


@pytest.fixture
def scratch_postgres() -> Iterator[str]:
    """An empty database next to the test database (made with psql), dropped afterwards."""
    url = make_url(get_settings().DATABASE_URL)
    name = f"test_restore_{secrets.token_hex(4)}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(["psql", admin, "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {name}"], check=True,
                   capture_output=True, timeout=60)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                       capture_output=True, timeout=60, check=False)


def test_sqlite_backup_restores_into_a_fresh_file(
    sqlite_source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with Session(get_engine()) as s:
        tenant = make_tenant(s, name="Before the backup")
        make_user(s, tenant, email="kept@example.com")
    assert backup_cli.main(["backup"]) == 0
    written = capsys.readouterr().out
    (taken, backup), = backups.list_backups()
    assert backup.suffix == ".sqlite3" and str(backup) in written
    assert abs(taken - utcnow()) < timedelta(minutes=1)
    _change_data("kept@example.com", "later@example.com")

    target = tmp_path / "restored" / "app.db"
    done = _cli("restore", str(backup), "--database-url", f"sqlite:///{target}")
    assert done.returncode == 0, done.stderr
    assert "Restored" in done.stdout
    assert _emails(f"sqlite:///{target}") == {"kept@example.com"}
    engine = sa.create_engine(f"sqlite:///{target}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM tenant")).scalars().all() == ["Before the backup"]
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
    assert _emails(sqlite_source) == {"renamed@example.com", "later@example.com"}  # the source is untouched

    assert backup_cli.main(["list"]) == 0
    assert f"{taken.isoformat()}  {backup}" in capsys.readouterr().out


def test_restore_refuses_what_it_cannot_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def refused(*argv: str) -> str:
        assert backup_cli.main(list(argv)) == 1
        return capsys.readouterr().err

    missing = tmp_path / "backup-20260101T000000Z.sqlite3"
    assert refused("restore", str(missing), "--database-url", f"sqlite:///{tmp_path / 'x.db'}").startswith(
        "error: No such backup")
    assert "SQLite" in refused("restore", str(_fake_backup(NOW)), "--database-url",
                               "postgresql://postgres@127.0.0.1:1/none")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert ".sqlite3" in refused("restore", str(other))
    assert not (tmp_path / "x.db").exists()


@pytest.mark.skipif(not IS_POSTGRES, reason="needs DATABASE_URL=postgresql+psycopg2://...")
def test_postgres_dump_restores_into_a_scratch_database(session: Session, scratch_postgres: str) -> None:
    make_user(session, make_tenant(session, name="Before the dump"), email="kept@example.com")
    backup = backups.run_backup()
    assert backup.suffix == ".dump" and backup.stat().st_size > 0
    assert backups.list_backups()[-1][1] == backup
    _change_data("kept@example.com", "later@example.com")

    for _ in range(2):  # the second restore replaces what the first made (--clean --if-exists)
        done = _cli("restore", str(backup), "--database-url", scratch_postgres)
        assert done.returncode == 0, done.stderr
        assert "Restored" in done.stdout and "password" not in done.stdout
    assert _emails(scratch_postgres) == {"kept@example.com"}
    engine = sa.create_engine(scratch_postgres)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM tenant")).scalars().all() == ["Before the dump"]
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert _emails(get_settings().DATABASE_URL) == {"renamed@example.com", "later@example.com"}


def test_prune_keeps_backups_within_retention_and_always_the_newest(app_settings: SettingsOverride) -> None:
    app_settings.set(BACKUPS_RETENTION_DAYS=14)
    old = [_fake_backup(NOW - timedelta(days=30)), _fake_backup(NOW - timedelta(days=15), ".dump")]
    recent = [_fake_backup(NOW - timedelta(days=13)), _fake_backup(NOW - timedelta(hours=1), ".dump")]
    others = [backups.backup_dir() / name for name in ("backup-garbage.sqlite3", "notes.txt",
                                                         f"backup-{(NOW - timedelta(days=40)).strftime(STAMP)}.tmp")]
    for path in others:
        path.write_text("leave me")

    assert backups.prune_backups(now=NOW) == 2
    assert [p for _, p in backups.list_backups()] == recent
    assert not any(p.exists() for p in old) and all(p.exists() for p in others)

    app_settings.set(BACKUPS_RETENTION_DAYS=1)
    assert backups.prune_backups(now=NOW) == 1
    assert [p for _, p in backups.list_backups()] == recent[1:]
    assert backups.prune_backups(now=NOW + timedelta(days=400)) == 0  # the last backup is never pruned
    assert [p for _, p in backups.list_backups()] == recent[1:]


def test_next_backup_follows_the_cron_schedule(app_settings: SettingsOverride) -> None:
    app_settings.set(BACKUPS_CRON="0 3 * * *")
    assert backups.next_backup_at(now=NOW) == NOW  # never backed up: due now
    _fake_backup(datetime(2026, 3, 9, 3, 0, 5, tzinfo=UTC))
    _fake_backup(datetime(2026, 3, 1, 3, 0, tzinfo=UTC))
    assert backups.next_backup_at(now=NOW) == datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # from the newest
    app_settings.set(BACKUPS_CRON="*/15 * * * *")
    assert backups.next_backup_at(now=NOW) == datetime(2026, 3, 9, 3, 15, tzinfo=UTC)
    app_settings.set(BACKUPS_CRON="30 2 * * 1")  # Mondays 02:30; the newest backup was Monday 03:00
    assert backups.next_backup_at(now=NOW) == datetime(2026, 3, 16, 2, 30, tzinfo=UTC)


def test_run_backup_if_due_takes_one_only_when_due(app_settings: SettingsOverride) -> None:
    app_settings.set(BACKUPS_CRON="0 3 * * *", BACKUPS_RETENTION_DAYS=14)
    _fake_backup(NOW - timedelta(days=20))
    _fake_backup(datetime(2026, 3, 10, 3, 0, tzinfo=UTC))  # today's, taken at 03:00
    assert backups.run_backup_if_due(now=NOW) is None
    assert len(backups.list_backups()) == 2

    later = datetime(2026, 3, 11, 3, 0, 30, tzinfo=UTC)
    taken = backups.run_backup_if_due(now=later)
    assert taken is not None and taken.name.startswith("backup-20260311T030030Z")
    assert taken.stat().st_size > 0
    # The 20-day-old one was pruned on the way.
    assert [t for t, _ in backups.list_backups()] == [datetime(2026, 3, 10, 3, 0, tzinfo=UTC), later]


def test_backup_status_shape(api: TestClient, mailbox: MailCatcher, app_settings: SettingsOverride) -> None:
    app_settings.set(BACKUPS_CRON="0 3 * * *", BACKUPS_RETENTION_DAYS=9)
    headers, _ = sign_in_headers(api, mailbox, "alice@example.com")
    empty = api.get("/api/account/backup-status", headers=headers)
    assert empty.status_code == 200, empty.text
    body = empty.json()
    assert set(body) == {"last_backup_at", "next_backup_at", "retention_days"}
    assert body["last_backup_at"] is None and body["retention_days"] == 9
    assert abs(datetime.fromisoformat(body["next_backup_at"]) - utcnow()) < timedelta(minutes=1)

    _fake_backup(datetime(2026, 3, 9, 3, 0, tzinfo=UTC))
    assert api.get("/api/account/backup-status", headers=headers).json() == {
        "last_backup_at": "2026-03-09T03:00:00+00:00", "next_backup_at": "2026-03-10T03:00:00+00:00",
        "retention_days": 9}
    assert api.get("/api/account/backup-status").status_code == 401


def test_maintenance_backs_up_when_due_and_sweeps_exports_and_deletions(
    session: Session, app_settings: SettingsOverride,
) -> None:
    app_settings.set(BACKUPS_CRON="0 3 1 1 *")  # yearly: once taken, not due again during the test
    doomed = make_user(session, email="doomed@example.com")
    doomed_tenant = tenant_id_of(doomed)
    session.add(AccountDeletion(tenant_id=doomed_tenant, requested_by=doomed.id,
                                scheduled_for=utcnow() - timedelta(minutes=1)))
    leaving = make_user(session, email="leaving@example.com")  # a person whose account deletion is due
    session.add(UserDeletion(user_id=leaving.id, scheduled_for=utcnow() - timedelta(minutes=1)))
    leaving_id = leaving.id
    owner = make_user(session, email="exporter@example.com")
    export = DataExport(tenant_id=tenant_id_of(owner), user_id=owner.id, status="ready", filename="export-old.zip",
                        expires_at=utcnow() - timedelta(minutes=1))
    session.add(export)
    session.commit()
    export_id = export.id
    export_path(export.filename).parent.mkdir(parents=True, exist_ok=True)
    export_path(export.filename).write_bytes(b"PK")

    assert run_maintenance() == {"backups": 1, "exports_expired": 1, "tenants_purged": 1, "users_purged": 1,
                                 "releases_recovered": 0}
    (taken, path), = backups.list_backups()
    assert abs(taken - utcnow()) < timedelta(minutes=1) and path.stat().st_size > 0
    assert not export_path("export-old.zip").exists()
    session.expire_all()
    assert session.get(Tenant, doomed_tenant) is None
    assert session.get(User, doomed.id) is not None  # a workspace deletion keeps its members' accounts
    assert session.get(User, leaving_id) is None
    assert session.get(DataExport, export_id).status == "expired"  # type: ignore[union-attr]

    assert run_maintenance() == {"backups": 0, "exports_expired": 0, "tenants_purged": 0, "users_purged": 0,
                                 "releases_recovered": 0}
    assert len(backups.list_backups()) == 1

    app_settings.set(BACKUPS_CRON="* * * * *")
    path.rename(path.with_name(f"backup-{(utcnow() - timedelta(minutes=2)).strftime(STAMP)}{path.suffix}"))
    assert run_maintenance()["backups"] == 1
    assert len(backups.list_backups()) == 2
