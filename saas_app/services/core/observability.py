"""Every Prometheus series the app and its workers record, and the small functions that record them.

One module owns the definitions (names, labels, buckets); services call `count_*`/`observe_*`
and never touch prometheus_client. Series follow Prometheus' naming: a `narrated_` prefix,
base units in the name (`_seconds`), counters end in `_total`. The gauges read at scrape time
(queue depth, live workers, reservations, last backup) live in `metrics_scrape.py`.

Multiprocess mode: with `PROMETHEUS_MULTIPROC_DIR` set, every process (app processes, the
worker and each forked work-horse) writes its values to memory-mapped files in that folder,
and a scrape of any app process adds them up, so renders counted by a worker show on the
app's `/metrics`. The folder must be emptied when the host's processes start (`make run` does;
containers share an emptyDir or tmpfs volume); see docs/operations.md#metrics.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import Counter, Histogram, values

from saas_app.services.core.errors import InvalidInput, InvalidSignature
from saas_app.services.core.outcomes import Outcome
from saas_app.settings import get_settings, set_library_env

NAMESPACE = "narrated"


def multiprocess_dir() -> Path | None:
    """The folder processes share their series in, or None (each process reports its own)."""
    return get_settings().metrics_dir


def _enable_multiprocess() -> None:
    folder = multiprocess_dir()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    set_library_env("PROMETHEUS_MULTIPROC_DIR", str(folder))  # prometheus_client reads it there
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


_enable_multiprocess()

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_STEP_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds", "HTTP requests by route template, method and status, and how long they took.",
    ["route", "method", "status"], namespace=NAMESPACE, buckets=_DURATION_BUCKETS)
SIGN_IN_REQUESTS = Counter(
    "sign_in_requests", "Sign-in emails asked for, by outcome (sent, rate_limited, mail_failed, invalid).",
    ["outcome"], namespace=NAMESPACE)
SIGN_IN_VERIFICATIONS = Counter(
    "sign_in_verifications", "Sign-in links and codes checked, by method (link, code) and outcome (ok, invalid).",
    ["method", "outcome"], namespace=NAMESPACE)
RATE_LIMIT_REFUSALS = Counter(
    "rate_limit_refusals", "Requests refused by a rate limit, by rule.", ["rule"], namespace=NAMESPACE)
QUOTA_ADMISSIONS = Counter(
    "quota_admissions", "Render admissions by outcome (admitted, quota_exceeded 402, concurrency and queue_full "
    "429, unavailable 503) and metric (the metric refused; every metric reserved when admitted).",
    ["outcome", "metric"], namespace=NAMESPACE)
RENDER_STEP_DURATION = Histogram(
    "render_step_duration_seconds", "Render steps by step and outcome (done, failed, canceled), and how long "
    "they ran.", ["step", "outcome"], namespace=NAMESPACE, buckets=_STEP_BUCKETS)
RENDERS = Counter(
    "renders", "Renders that ended, by final status (succeeded, failed, canceled).", ["status"], namespace=NAMESPACE)
WEBHOOK_EVENTS = Counter(
    "webhook_events", "Stripe webhook events by type and outcome (applied, duplicate, stale, ignored, invalid, "
    "error).", ["type", "outcome"], namespace=NAMESPACE)
EMAILS = Counter(
    "emails", "Emails handed to the SMTP server (outcome sent) or not (failed).", ["outcome"], namespace=NAMESPACE)
ACCOUNT_JOBS = Counter(
    "account_jobs", "Data export and deletion jobs, by kind (export, deletion) and outcome (succeeded, failed, "
    "skipped).", ["kind", "outcome"], namespace=NAMESPACE)

QUOTA_OUTCOMES = ("admitted", "quota_exceeded", "concurrency", "queue_full", "unavailable")
WEBHOOK_TYPES = ("checkout.session.completed", "customer.subscription.created", "customer.subscription.updated",
                 "customer.subscription.deleted", "invoice.paid", "invoice.payment_failed")


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    """One HTTP request answered (`route` is the template, e.g. `/api/renders/{render_id}`)."""
    HTTP_REQUEST_DURATION.labels(route=route, method=method, status=str(status)).observe(seconds)


def count_sign_in_request(outcome: str) -> None:
    """A sign-in email asked for: `sent`, `rate_limited`, `mail_failed` or `invalid`."""
    SIGN_IN_REQUESTS.labels(outcome=outcome).inc()


def count_sign_in_verification(*, method: str, ok: bool) -> None:
    """A sign-in link (`method="link"`) or code (`"code"`) checked."""
    SIGN_IN_VERIFICATIONS.labels(method=method, outcome="ok" if ok else "invalid").inc()


def count_rate_limited(rule: str) -> None:
    """A request refused by the rate limit named `rule` (e.g. `sign_in_email`)."""
    RATE_LIMIT_REFUSALS.labels(rule=rule).inc()


def count_admission(outcome: str, metrics: tuple[str, ...] = ()) -> None:
    """A render admission: `outcome` is one of `QUOTA_OUTCOMES`; `metrics` the metrics it concerns."""
    for metric in metrics or ("",):
        QUOTA_ADMISSIONS.labels(outcome=outcome, metric=metric).inc()


def observe_step(*, step: str, outcome: str, seconds: float) -> None:
    """A render step that ran for `seconds` and ended `done`, `failed` or `canceled`."""
    RENDER_STEP_DURATION.labels(step=step, outcome=outcome).observe(seconds)


def count_render(status: str) -> None:
    """A render that reached its final status."""
    RENDERS.labels(status=status).inc()


def count_webhook(*, event_type: str, outcome: str) -> None:
    """A Stripe webhook event (an unknown or unreadable type is counted as `other`)."""
    WEBHOOK_EVENTS.labels(type=event_type if event_type in WEBHOOK_TYPES else "other", outcome=outcome).inc()


@contextmanager
def webhook_outcome(payload: bytes) -> Iterator[list[str]]:
    """Count a Stripe webhook delivery: the block appends its result (`applied`, `duplicate`, ...);
    a block that raises counts as `invalid` (a bad signature or body) or `error`."""
    outcome: list[str] = []
    try:
        yield outcome
    except (InvalidSignature, InvalidInput):
        outcome.append("invalid")
        raise
    except Exception:
        outcome.append("error")
        raise
    finally:
        count_webhook(event_type=_event_type(payload), outcome=outcome[-1] if outcome else "error")


def _event_type(payload: bytes) -> str:
    try:
        found = json.loads(payload).get("type", "")
    except (ValueError, AttributeError):
        return "other"
    return found if isinstance(found, str) else "other"


def count_email(*, sent: bool) -> None:
    """An email handed to the SMTP server, or one it could not take."""
    EMAILS.labels(outcome=Outcome.SENT if sent else Outcome.FAILED).inc()


def count_account_job(*, kind: str, outcome: str) -> None:
    """An export, workspace `deletion` or account `user_deletion` job that ended: `succeeded`, `failed`, `skipped`."""
    ACCOUNT_JOBS.labels(kind=kind, outcome=outcome).inc()
