"""Backups by hand: ``python -m saas_app.jobs.backup_cli backup|list|restore FILE``.

`make backup` takes one now; `make restore BACKUP=var/backups/backup-....sqlite3` restores
one into `DATABASE_URL` (stop the app first: the database is overwritten).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from saas_app.services.account import backups
from saas_app.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description="Database backups")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("backup", help="take a backup now")
    sub.add_parser("list", help="list backups")
    restore = sub.add_parser("restore", help="restore a backup into DATABASE_URL (or --database-url)")
    restore.add_argument("file", type=Path)
    restore.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "backup":
            print(f"Backup written: {backups.run_backup()}")
        elif args.command == "list":
            for taken, path in backups.list_backups():
                print(f"{taken.isoformat()}  {path}")
        else:
            url = args.database_url or get_settings().DATABASE_URL
            backups.restore_backup(backup=args.file, database_url=url)
            print(f"Restored {args.file} into {url.split('@')[-1]}")
    except backups.BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
