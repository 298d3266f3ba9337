"""Database engine and sessions (SQLModel on SQLite or PostgreSQL)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
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
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               poolclass=QueuePool, **_pool_sizes())

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **_pool_sizes())


def pool_size() -> int:
    """Connections one process keeps: one for every thread that can hold one at a time (the
    API's `WEB_THREADS`, as many for Reflex's event handlers, one for the health check), so
    no thread ever waits for a connection (see `api/capacity.py`)."""
    return 2 * get_settings().WEB_THREADS + 1


def _pool_sizes() -> dict[str, int]:
    # A small overflow covers work outside those threads (startup, a background task).
    return {"pool_size": pool_size(), "max_overflow": 4}


def forget_pooled_connections() -> None:
    """In a forked child: give each engine a new, empty pool and leave the parent's
    connections alone (SQLAlchemy's recipe for `os.fork`; a connection must not be shared)."""
    for url in _created:
        _engine_for(url).dispose(close=False)


def get_engine() -> Engine:
    """Return the engine for the configured `DATABASE_URL`."""
    return _engine_for(get_settings().DATABASE_URL)


def new_session() -> Session:
    """A session on the configured engine (it takes a connection only when first used)."""
    return Session(get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with new_session() as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
