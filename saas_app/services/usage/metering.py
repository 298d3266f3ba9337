"""Metering: how charged amounts are rounded, and how committed ledger rows reach the counters.

A charge is a ledger row (`ledger.record_usage`, unique per event). Once committed,
`publish_usage` appends it to the JSONL log and adds it to the Redis counters, each exactly
once; if Redis is away the ledger still has it and the counters are rebuilt from it later.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import redis
from sqlmodel import Session

from saas_app.models import UsageRecord
from saas_app.services.usage import ledger, quotas

log = logging.getLogger(__name__)
BYTES_PER_MB = 1024 * 1024


def ceil_minutes(seconds: float) -> float:
    """Render minutes charged for an output duration (exact, 3 decimals, rounded up)."""
    return math.ceil(seconds / 60 * 1000) / 1000


def storage_mb(size_bytes: int) -> float:
    """Storage charged for files of this size (MB of 1024 KB, 6 decimals)."""
    return round(size_bytes / BYTES_PER_MB, 6)


def publish_usage(*, session: Session, rows: Sequence[UsageRecord]) -> None:
    """After the ledger rows are committed: add them to the JSONL log and the Redis counters.

    Args:
        session: The session the rows were committed in (their "logged" mark is committed here).
        rows: Committed ledger rows; rows already logged or counted are skipped.
    """
    ledger.append_to_log(session=session, rows=list(rows))
    session.commit()
    try:
        quotas.apply_rows(list(rows))
    except redis.RedisError as exc:  # counters are rebuilt from the ledger after Redis returns
        log.warning("usage counters not updated (%s); the ledger has the rows", exc)
