"""Readiness of the app's dependencies."""

from __future__ import annotations

import logging

from sqlalchemy import text

from saas_app.db import get_engine
from saas_app.services.core.redis_client import get_redis

log = logging.getLogger(__name__)


def get_health() -> dict[str, str]:
    """Check the database and Redis.

    Returns:
        `{"status", "db", "redis"}`, each component `ok` or `down`; status is `ok` only
        when every component is.
    """
    result = {"db": "ok", "redis": "ok"}
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means down
        log.warning("health: database down: %s", exc)
        result["db"] = "down"
    try:
        get_redis().ping()
    except Exception as exc:
        log.warning("health: redis down: %s", exc)
        result["redis"] = "down"
    status = "ok" if all(v == "ok" for v in result.values()) else "degraded"
    return {"status": status, **result}
