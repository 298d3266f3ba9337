"""Helpers shared by conftest.py and tests (a plain module: test files must not import conftest)."""

from __future__ import annotations

import os
import secrets

import sqlalchemy as sa
from alembic.config import Config

TEST_DATABASE_PREFIX = "test"


class NotATestDatabase(ValueError):
    """The URL given for tests names a database the tests must not touch."""


def create_test_database(server_url: str) -> str:
    """Create an empty database for this run beside the one `server_url` names.

    Args:
        server_url: A PostgreSQL URL whose database name starts with "test" (e.g.
            ``postgresql+psycopg2://postgres@127.0.0.1:5432/test``); the tests connect to it
            only to create and drop their own databases.

    Returns:
        The URL of the new database, ``<name>_run_<random hex>``.

    Raises:
        NotATestDatabase: The URL is not PostgreSQL or its database name does not start with "test".
    """
    url = sa.engine.make_url(server_url)
    if url.get_backend_name() != "postgresql" or not (url.database or "").startswith(TEST_DATABASE_PREFIX):
        raise NotATestDatabase(
            f"TEST_DATABASE_URL must be a PostgreSQL database whose name starts with "
            f"{TEST_DATABASE_PREFIX!r}; got {url.render_as_string(hide_password=True)}")
    name = f"{url.database}_run_{secrets.token_hex(6)}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_test_database(run_url: str) -> None:
    """Drop a database made by `create_test_database` (and only such a database)."""
    url = sa.engine.make_url(run_url)
    name = url.database or ""
    if "_run_" not in name or not name.startswith(TEST_DATABASE_PREFIX):
        raise NotATestDatabase(f"refusing to drop {name!r}: not a database the tests created")
    from saas_app.db import get_engine  # the app's pool holds connections to it

    get_engine().dispose()
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def alembic_config() -> Config:
    """Alembic config for the migrations folder."""
    from saas_app.settings import PROJECT_ROOT

    # No ini file: env.py would otherwise re-run logging.fileConfig over pytest's handlers.
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


class SettingsOverride:
    """Environment overrides for one test, applied through `get_settings.cache_clear()`."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, **values: object) -> None:
        """Set settings (by env name) and rebuild the cached settings."""
        for key, value in values.items():
            self._saved.setdefault(key, os.environ.get(key))
            os.environ[key] = str(value)
        _clear_settings()

    def restore(self) -> None:
        """Put every overridden setting back (also done after the test)."""
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()
        _clear_settings()


def _clear_settings() -> None:
    from saas_app.settings import get_settings

    get_settings.cache_clear()
