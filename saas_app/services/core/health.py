"""Readiness of the app's dependencies."""

from __future__ import annotations

import logging
from typing import Literal

from sqlalchemy import text

from saas_app.db import get_engine
from saas_app.services.core.redis_client import get_redis
from saas_app.services.core.views import View

log = logging.getLogger(__name__)

Component = Literal["ok", "down"]


class Health(View):
    """Each dependency `ok` or `down`; `status` is `ok` only when every one is, else `degraded`."""

    status: Literal["ok", "degraded"]
    db: Component
    redis: Component


def get_health() -> Health:
    """Check the database and Redis."""
    db: Component = "ok"
    redis: Component = "ok"
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means down
        log.warning("health: database down: %s", exc)
        db = "down"
    try:
        get_redis().ping()
    except Exception as exc:
        log.warning("health: redis down: %s", exc)
        redis = "down"
    return Health(status="ok" if db == redis == "ok" else "degraded", db=db, redis=redis)
