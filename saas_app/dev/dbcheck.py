"""Fail fast, with a readable reason, when a test database cannot be reached.

Usage: ``python -m saas_app.dev.dbcheck postgresql+psycopg2://postgres@127.0.0.1:5432/test``
"""

from __future__ import annotations

import sys

import sqlalchemy as sa


def database_error(url: str, timeout: int = 3) -> str | None:
    """Return why `url` cannot be connected to, or None when a connection works.

    Args:
        url: A SQLAlchemy database URL.
        timeout: Connect timeout in seconds (PostgreSQL only).

    Returns:
        The first line of the driver's error, or None on success.
    """
    connect_args = {"connect_timeout": timeout} if url.startswith("postgresql") else {}
    try:
        engine = sa.create_engine(url, connect_args=connect_args)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver or URL error means "not usable"
        lines = str(exc).strip().splitlines()
        return lines[0] if lines else type(exc).__name__
    return None


def main(argv: list[str] | None = None) -> int:
    """Check the URL given as the only argument; exit 1 with a message when unusable."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m saas_app.dev.dbcheck DATABASE_URL", file=sys.stderr)
        return 2
    url = args[0]
    error = database_error(url)
    if error is None:
        return 0
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    print(f"Database {shown} is not reachable: {error}", file=sys.stderr)
    print(
        "Start PostgreSQL and create that database, or point the tests elsewhere with "
        "`make test PG_TEST_URL=postgresql+psycopg2://user@host:port/db`.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
