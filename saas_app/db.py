"""Database engine and sessions (SQLModel on SQLite or PostgreSQL)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

from saas_app.settings import get_settings

_created: list[str] = []


@functools.lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    _created.append(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def forget_pooled_connections() -> None:
    """In a forked child: give each engine a new, empty pool and leave the parent's
    connections alone (SQLAlchemy's recipe for `os.fork`; a connection must not be shared)."""
    for url in _created:
        _engine_for(url).dispose(close=False)


def get_engine() -> Engine:
    """Return the engine for the configured `DATABASE_URL`."""
    return _engine_for(get_settings().DATABASE_URL)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
