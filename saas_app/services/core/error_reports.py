"""Error reports to Sentry (optional: only when `SENTRY_DSN` is set), with no personal data.

The FastAPI and RQ integrations report unhandled errors of requests and jobs, tagged with the
release and environment. Stack frames carry no local variables (they hold request headers and
bodies); `scrub` runs on every event before it leaves the process: email addresses, tokens, API
keys, cookies and secrets are replaced, wherever they appear.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.fastapi import FastApiIntegration
from sentry_sdk.integrations.rq import RqIntegration
from sentry_sdk.integrations.starlette import StarletteIntegration
from sentry_sdk.types import Event, Hint

from saas_app.settings import get_settings

REDACTED = "[redacted]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# Our API keys (nsk_...), Stripe keys and secrets (sk_/rk_/whsec_), JWTs, long hex/base64 tokens.
_SECRET = re.compile(r"\b(?:nsk_[\w-]+|(?:sk|rk|pk)_(?:live|test)_[\w]+|whsec_[\w]+|eyJ[\w-]+\.[\w-]+\.[\w-]+"
                     r"|[A-Za-z0-9_-]{32,})")
_SENSITIVE_KEYS = re.compile(r"pass|secret|token|key|auth|cookie|session|email|code|signature|dsn", re.I)
# Sentry's own identifiers and facts, which look like tokens but are not data.
_STRUCTURAL = {"event_id", "trace_id", "span_id", "parent_span_id", "release", "environment", "sdk", "modules",
               "platform", "timestamp", "level", "type", "module", "function", "filename", "abs_path"}


def _scrub_text(text: str) -> str:
    return _SECRET.sub(REDACTED, _EMAIL.sub(REDACTED, text))


def _scrub(value: Any, key: str = "") -> Any:
    if key in _STRUCTURAL:
        return value
    if key and _SENSITIVE_KEYS.search(key) and isinstance(value, str | bytes) and value:
        return REDACTED
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, key) for v in value]
    return value


def scrub(event: Event, _hint: Hint | None = None) -> Event:
    """Remove personal data and secrets from an event (Sentry's `before_send`)."""
    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)  # request bodies carry emails and codes
    return dict(_scrub(dict(event)))  # type: ignore[return-value]


def release() -> str:
    """The release events are tagged with: SENTRY_RELEASE, else the app's version."""
    configured = get_settings().SENTRY_RELEASE
    if configured:
        return configured
    try:
        return f"narrated-studio@{metadata.version('narrated-studio')}"
    except metadata.PackageNotFoundError:
        return "narrated-studio@dev"


def init_error_reports() -> bool:
    """Start reporting errors to Sentry when SENTRY_DSN is set (once per process).

    Returns:
        Whether reporting is on.
    """
    settings = get_settings()
    if not settings.SENTRY_DSN:
        return False
    sentry_sdk.init(
        dsn=settings.SENTRY_DSN, release=release(),
        environment=settings.SENTRY_ENVIRONMENT or settings.APP_ENV.value,
        integrations=[StarletteIntegration(), FastApiIntegration(), RqIntegration()],
        include_local_variables=False, before_send=scrub, traces_sample_rate=0.0,
    )
    return True
