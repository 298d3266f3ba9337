"""Structured logs: one line per HTTP request and per render step, in text or JSON (`LOG_FORMAT`).

A request's id (its `X-Request-ID`), tenant and caller are kept in context variables while it
is served; every log line carries them, and the jobs the request queues carry the request id
in their RQ `meta` (`job_meta`), so a worker's lines for that job show the same id.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from saas_app.services.core import observability
from saas_app.services.renders.status import StepStatus
from saas_app.settings import get_settings

ACCESS_LOGGER = "saas_app.access"
STEP_LOGGER = "saas_app.steps"


@dataclass
class LogContext:
    """Who and what the current request or job is about (empty strings when unknown)."""

    request_id: str = ""
    tenant_id: str = ""
    user: str = ""  # a user id, or `key:<prefix>` for an API key
    job_id: str = ""


_CONTEXT: ContextVar[LogContext | None] = ContextVar("log_context", default=None)


def current() -> LogContext:
    """The context of the request or job being handled (a fresh, empty one outside both)."""
    found = _CONTEXT.get()
    if found is None:
        found = LogContext()
        _CONTEXT.set(found)
    return found


def bind(**values: str) -> LogContext:
    """Start a new context for a request or job (e.g. `bind(request_id=...)`)."""
    context = LogContext(**values)
    _CONTEXT.set(context)
    return context


def bind_principal(*, tenant_id: str, user_id: str, key_prefix: str = "") -> None:
    """Record the authenticated caller on the current context (a user id or an API key's prefix)."""
    context = current()
    context.tenant_id, context.user = tenant_id, f"key:{key_prefix}" if key_prefix else user_id


def job_meta() -> dict[str, str]:
    """What a queued job carries from the request that queued it (its `meta`)."""
    request_id = current().request_id
    return {"request_id": request_id} if request_id else {}


class ContextFilter(logging.Filter):
    """Puts the current context's fields on every record (for the text and JSON formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in asdict(current()).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context and the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and v not in ("", None)})
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s [rid=%(request_id)s tenant=%(tenant_id)s user=%(user)s]"


def configure_logging(level: int = logging.INFO) -> None:
    """Send this process's logs to stderr in `LOG_FORMAT` (text or json), with the context on each line."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if get_settings().LOG_FORMAT == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def log_request(*, method: str, route: str, status: int, seconds: float) -> None:
    """The one line (and the metric) of an answered HTTP request."""
    observability.observe_request(route=route, method=method, status=status, seconds=seconds)
    logging.getLogger(ACCESS_LOGGER).info(
        "%s %s %s %.1f ms", method, route, status, seconds * 1000,
        extra={"method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 1)})


@contextmanager
def step_span(*, render_id: str, step: str, canceled: type[BaseException]) -> Iterator[None]:
    """Time a render step: one log line and one `render_step_duration_seconds` sample when it ends
    (`done`, `failed`, or `canceled` when it raised `canceled`)."""
    started, outcome = time.monotonic(), StepStatus.FAILED
    try:
        yield
        outcome = StepStatus.DONE
    except canceled:
        outcome = StepStatus.CANCELED
        raise
    finally:
        seconds = time.monotonic() - started
        observability.observe_step(step=step, outcome=outcome, seconds=seconds)
        logging.getLogger(STEP_LOGGER).info(
            "render %s step %s %s in %.2f s", render_id, step, outcome, seconds,
            extra={"render_id": render_id, "step": step, "outcome": outcome, "duration_ms": round(seconds * 1000, 1)})
