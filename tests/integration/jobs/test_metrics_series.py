"""Every series of docs/operations.md#metrics moves on `/metrics` when the product is used: a user
signs in, renders with a real worker process (whose series reach the app's page through the
shared multiprocess folder), exports and deletes the account, and Stripe delivers a webhook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from factories import bearer, clear_rate_limits, render_payload, sign_in_api, sign_in_headers, submit_render
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from render_jobs import WorkerHandle, wait_terminal, wait_until
from shared_helpers import SettingsOverride
from stripe_server import app_env, pay_checkout, reset_stripe, stripe_server  # noqa: F401  (session fixture)

from saas_app import routes
from saas_app.dev.mailcatcher import MailCatcher

pytestmark = pytest.mark.db

TOKEN = "scrape-token-for-the-tests"
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(api: TestClient, token: str = TOKEN) -> Series:
    """Every sample on /metrics, by (name, labels)."""
    response = api.get(routes.METRICS, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(series: Series, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in series.items() if n == name and wanted <= got)


@pytest.fixture
def metrics_on(app_settings: SettingsOverride) -> SettingsOverride:
    app_settings.set(METRICS_TOKEN=TOKEN)
    return app_settings


@pytest.fixture
def stripe_env(stripe_server: str, app_settings: SettingsOverride) -> Iterator[str]:  # noqa: F811
    reset_stripe(stripe_server)
    app_settings.set(**app_env(stripe_server))
    yield stripe_server


def test_metrics_need_the_token_and_are_off_without_one(api: TestClient, app_settings: SettingsOverride) -> None:
    off = api.get(routes.METRICS, headers=bearer(TOKEN))
    assert off.status_code == 404 and "METRICS_TOKEN" in off.json()["message"]
    app_settings.set(METRICS_TOKEN=TOKEN)
    assert api.get(routes.METRICS).status_code == 401
    assert api.get(routes.METRICS, headers=bearer("not-" + TOKEN)).status_code == 401
    assert api.get(routes.METRICS, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert scrape(api)  # the right token


def test_each_series_moves_as_the_product_is_used(
    api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis, metrics_on: SettingsOverride,
    start_render_worker: Callable[..., WorkerHandle], stripe_env: str, account_dirs: SettingsOverride,
) -> None:
    before = scrape(api)

    # Sign-in: an email sent, a link verified, a code refused, a second email refused by the rate limit.
    headers, me = sign_in_headers(api, mailbox, "metrics@example.com")
    assert api.post("/api/auth/magic-link/request", json={"email": "metrics@example.com"}).status_code == 429
    wrong = api.post("/api/auth/magic-link/verify", json={"email": "metrics@example.com", "code": "000000"})
    assert wrong.status_code == 401

    # Admission: refused over quota (402), then admitted and queued while no worker runs.
    metrics_on.set(QUOTA_IMAGES_COUNT=0)
    assert api.post("/api/renders", json=render_payload(scenes=2), headers=headers).status_code == 402
    metrics_on.set(QUOTA_IMAGES_COUNT=500)
    render = submit_render(api, headers, scenes=2)
    queued = scrape(api)
    assert value(queued, "narrated_queue_depth", queue="renders") == 1
    assert value(queued, "narrated_queue_oldest_job_age_seconds", queue="renders") >= 0
    assert value(queued, "narrated_quota_reservations_held") == 1
    assert value(queued, "narrated_redis_up") == 1

    # The worker renders it: its step and render series appear on the app's page.
    worker = start_render_worker(DELETION_GRACE_HOURS="0")
    assert wait_terminal(render["id"], worker).status == "succeeded", worker.log_tail()
    assert api.get(f"/api/renders/{render['id']}", headers=headers).status_code == 200
    wait_until(lambda: value(scrape(api), "narrated_quota_reservations_held") == 0, 10, "the release", worker)
    wait_until(lambda: value(scrape(api), "narrated_backup_last_success_timestamp_seconds") > 0, 30,
               "the start-up backup", worker)

    # An export and a webhook (a paid checkout, then the same event again), then the account deleted.
    assert api.post("/api/account/export", headers=headers).status_code == 202
    wait_until(lambda: value(scrape(api), "narrated_account_jobs_total", kind="export", outcome="succeeded") >
               value(before, "narrated_account_jobs_total", kind="export", outcome="succeeded"), 30, "the export",
               worker)
    checkout = api.post("/api/billing/checkout", json={"plan": "pro"}, headers=headers).json()["url"]
    _, delivered = pay_checkout(stripe_env, api, checkout)
    assert delivered.json()["result"] == "applied", delivered.text
    assert api.post(routes.API_BILLING_WEBHOOK, content=b"{}", headers={"Stripe-Signature": "t=1,v1=0"}
                    ).status_code == 400
    clear_rate_limits(redis_client)
    fresh = sign_in_api(api, mailbox, "metrics@example.com")
    assert api.post("/api/account/delete", json={"confirm_email": "metrics@example.com"},
                    headers=bearer(fresh["access_token"])).status_code == 202
    wait_until(lambda: value(scrape(api), "narrated_account_jobs_total", kind="deletion") >
               value(before, "narrated_account_jobs_total", kind="deletion"), 30, "the purge", worker)

    after = scrape(api)
    moved = {
        ("narrated_http_request_duration_seconds_count", ("route", "/api/renders"), ("status", "202")),
        ("narrated_http_request_duration_seconds_count", ("route", "/api/renders/{render_id}"), None),
        ("narrated_sign_in_requests_total", ("outcome", "sent"), None),
        ("narrated_sign_in_requests_total", ("outcome", "rate_limited"), None),
        ("narrated_sign_in_verifications_total", ("method", "link"), ("outcome", "ok")),
        ("narrated_sign_in_verifications_total", ("method", "code"), ("outcome", "invalid")),
        ("narrated_rate_limit_refusals_total", ("rule", "sign_in_email"), None),
        ("narrated_quota_admissions_total", ("outcome", "admitted"), ("metric", "images_count")),
        ("narrated_quota_admissions_total", ("outcome", "quota_exceeded"), ("metric", "images_count")),
        ("narrated_render_step_duration_seconds_count", ("step", "speech"), ("outcome", "done")),
        ("narrated_render_step_duration_seconds_count", ("step", "video"), ("outcome", "done")),
        ("narrated_renders_total", ("status", "succeeded"), None),
        ("narrated_webhook_events_total", ("type", "checkout.session.completed"), ("outcome", "applied")),
        ("narrated_webhook_events_total", ("outcome", "invalid"), None),
        ("narrated_emails_total", ("outcome", "sent"), None),
        ("narrated_account_jobs_total", ("kind", "export"), ("outcome", "succeeded")),
        ("narrated_account_jobs_total", ("kind", "deletion"), None),
    }
    for name, *pairs in moved:
        labels = dict(p for p in pairs if p)
        assert value(after, name, **labels) > value(before, name, **labels), (name, labels)
    assert value(after, "narrated_workers_live") >= 1
    assert value(after, "narrated_backup_last_success_timestamp_seconds") > 0
    assert value(after, "narrated_queue_depth", queue="renders") == 0
    assert me["tenant_id"] not in api.get(routes.METRICS, headers=bearer(TOKEN)).text  # no tenant ids as labels
