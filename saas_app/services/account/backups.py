"""Database backups on a cron schedule, with retention, status and restore.

SQLite is copied with its online backup API (consistent while the app writes); PostgreSQL
is dumped with `pg_dump -Fc` and restored with `pg_restore`. Backups are files in
`BACKUP_DIR` named by their UTC time, so the folder itself is the record.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from croniter import croniter
from sqlalchemy.engine import make_url

from saas_app.models import utcnow
from saas_app.services.account.views import BackupStatus
from saas_app.services.teams.permissions import Action, HasRole, require
from saas_app.settings import child_process_env, get_settings

log = logging.getLogger(__name__)
_STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(RuntimeError):
    """A backup or restore could not be made (the message says why)."""


def backup_dir() -> Path:
    """Where backups are kept."""
    path = Path(get_settings().BACKUP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def list_backups() -> list[tuple[datetime, Path]]:
    """Existing backups, oldest first, with the time each was taken."""
    found = []
    for path in backup_dir().glob("backup-*"):
        if path.suffix in (".sqlite3", ".dump"):
            try:
                found.append((datetime.strptime(path.stem.removeprefix("backup-"), _STAMP)
                              .replace(tzinfo=UTC), path))
            except ValueError:
                continue
    return sorted(found)


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment carrying it (not in the process list)."""
    parsed = make_url(url).set(drivername="postgresql")
    env = child_process_env(PGPASSWORD=str(parsed.password)) if parsed.password else child_process_env()
    return parsed.set(password=None).render_as_string(hide_password=False), env


def _copy_sqlite(source_path: Path, dest_path: Path) -> None:
    with closing(sqlite3.connect(source_path)) as source, closing(sqlite3.connect(dest_path)) as dest:
        source.backup(dest)


def run_backup(*, now: datetime | None = None) -> Path:
    """Take one backup of `DATABASE_URL` now.

    Raises:
        BackupError: The database could not be copied.
    """
    url = get_settings().DATABASE_URL
    stamp = (now or utcnow()).strftime(_STAMP)
    if url.startswith("sqlite"):
        target = backup_dir() / f"backup-{stamp}.sqlite3"
        tmp = target.with_suffix(".tmp")
        _copy_sqlite(_sqlite_path(url), tmp)
        tmp.replace(target)
    else:
        target = backup_dir() / f"backup-{stamp}.dump"
        tmp = target.with_suffix(".tmp")
        target_url, env = _libpq(url)
        done = subprocess.run(["pg_dump", "-Fc", "--no-owner", "-f", str(tmp), target_url],
                              capture_output=True, text=True, env=env)
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[-300:]}")
        tmp.replace(target)
    log.info("backup written: %s", target)
    return target


def prune_backups(*, now: datetime | None = None) -> int:
    """Delete backups older than `BACKUPS_RETENTION_DAYS` (the newest one is always kept)."""
    cutoff = (now or utcnow()) - timedelta(days=get_settings().BACKUPS_RETENTION_DAYS)
    backups = list_backups()
    removed = 0
    for taken, path in backups[:-1]:
        if taken < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def next_backup_at(*, now: datetime | None = None) -> datetime:
    """When the next scheduled backup is due (now, if none was ever taken)."""
    backups = list_backups()
    if not backups:
        return now or utcnow()
    return croniter(get_settings().BACKUPS_CRON, backups[-1][0]).get_next(datetime)


def run_backup_if_due(*, now: datetime | None = None) -> Path | None:
    """Take a backup when the schedule says so, then prune old ones (called every minute)."""
    now = now or utcnow()
    if next_backup_at(now=now) > now:
        return None
    path = run_backup(now=now)
    prune_backups(now=now)
    return path


def get_backup_status(*, principal: HasRole) -> BackupStatus:
    """When the last backup was taken, when the next is due, and how long backups are kept.

    Raises:
        Forbidden: The caller's role may not see backups (owners only).
    """
    require(principal, Action.BACKUPS_VIEW)
    backups = list_backups()
    return BackupStatus(last_backup_at=backups[-1][0] if backups else None, next_backup_at=next_backup_at(),
                        retention_days=get_settings().BACKUPS_RETENTION_DAYS)


def restore_backup(*, backup: Path, database_url: str) -> None:
    """Restore a backup file into a database (stop the app first; the target is overwritten).

    Raises:
        BackupError: Unknown file type or the restore failed.
    """
    if not backup.exists():
        raise BackupError(f"No such backup: {backup}")
    if backup.suffix == ".sqlite3":
        if not database_url.startswith("sqlite"):
            raise BackupError("A SQLite backup restores into a SQLite DATABASE_URL.")
        target = _sqlite_path(database_url)
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_sqlite(backup, target)
        return
    if backup.suffix == ".dump":
        target_url, env = _libpq(database_url)
        done = subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", target_url, str(backup)],
                              capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()[-300:]}")
        return
    raise BackupError("Backups end in .sqlite3 (SQLite) or .dump (PostgreSQL).")
