"""Helpers shared by conftest.py and tests (a plain module: test files must not import conftest)."""

from __future__ import annotations

import os

from alembic.config import Config

from saas_app.settings import PROJECT_ROOT, get_settings


def alembic_config() -> Config:
    """Alembic config for the migrations folder."""
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
        get_settings.cache_clear()

    def restore(self) -> None:
        """Put every overridden setting back (also done after the test)."""
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()
        get_settings.cache_clear()
