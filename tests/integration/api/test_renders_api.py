"""Submitting renders over HTTP: admitted and queued, or refused with a clear status and nothing queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import redis
from factories import (
    queued_render_jobs,
    render_job,
    render_payload,
    render_rows,
    reserved,
    set_plan,
    sign_in_headers,
    submit_render,
)
from fastapi.testclient import TestClient
from rq.job import JobStatus
from sqlmodel import Session

from saas_app import routes
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import UsageRecord
from saas_app.services.core import queue
from saas_app.services.renders.input import RenderInput, estimate_usage
from saas_app.services.renders.steps.registry import STEPS
from saas_app.services.usage.ledger import period_of
from saas_app.services.usage.metrics import METRICS
from saas_app.settings import get_settings

pytestmark = pytest.mark.db

ALICE = "alice@example.com"
NOTHING = dict.fromkeys(METRICS.names(), 0.0)


def _sign_in(api: TestClient, mailbox: MailCatcher, email: str = ALICE) -> tuple[dict, dict]:
    return sign_in_headers(api, mailbox, email)


# Submitting


@pytest.mark.parametrize("path", ["/api/renders", "/render"])
def test_a_submission_is_admitted_and_queued(api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis,
                                            path: str) -> None:
    headers, me = _sign_in(api, mailbox)
    payload = render_payload(scenes=2)

    response = api.post(path, json=payload, headers=headers)

    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"id", "status", "estimate"} and body["status"] == "queued"
    assert body["estimate"] == estimate_usage(RenderInput(**payload))
    assert set(body["estimate"]) == set(METRICS.names())
    assert body["estimate"]["images_count"] == 2

    job = render_job(body["id"])
    assert job.id == f"render-{body['id']}" and job.origin == "renders"
    assert queued_render_jobs() == [job.id]
    assert job.func_name == queue.RENDER_JOB
    assert list(job.args) == [body["id"], me["tenant_id"], me["user_id"]]
    assert job.meta == {"tenant_id": me["tenant_id"], "user_id": me["user_id"],
                        "request_id": response.headers["X-Request-ID"]}  # the submission's, for the logs
    assert job.timeout == get_settings().RENDER_JOB_TIMEOUT_SECONDS
    assert job.result_ttl and job.failure_ttl
    assert job.get_status() == JobStatus.QUEUED
    json.loads(job.data)  # stored with the JSON serializer, never pickled

    [row] = render_rows(me["tenant_id"])
    assert (row.id, row.status, row.user_id, row.period) == (body["id"], "queued", me["user_id"], period_of())
    assert reserved(redis_client, me["tenant_id"]) == pytest.approx(body["estimate"])
    detail = api.get(f"/api/renders/{body['id']}", headers=headers).json()
    assert [(s["name"], s["label"], s["status"]) for s in detail["steps"]] == [
        (step.name, step.label, "pending") for step in STEPS]


@pytest.mark.parametrize(("change", "field"), [
    ({"topic": ""}, "topic"),
    ({"scenes": [{"text": f"Scene {n}"} for n in range(21)]}, "scenes"),
    ({"scenes": [{"text": "t" * 301}]}, "scenes.0.text"),
    ({"scenes": [{"text": "ok", "narration": "n" * 1001}]}, "scenes.0.narration"),
    ({"resolution": "4k"}, "resolution"),
    ({"template": "glitter"}, "template"),
    ({"scenes": [{"text": "ok"}], "speed": 2}, "speed"),
    (None, "body"),
], ids=["empty-topic", "21-scenes", "text-301", "narration-1001", "4k", "unknown-template", "extra-field",
        "no-body"])
def test_an_invalid_request_is_refused_naming_the_field(api: TestClient, mailbox: MailCatcher,
                                                      change: dict | None, field: str) -> None:
    headers, me = _sign_in(api, mailbox)
    kwargs = {} if change is None else {"json": render_payload(**change)}

    response = api.post("/api/renders", headers=headers, **kwargs)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in [f["field"] for f in body["fields"]], body
    assert field in body["message"]
    assert queued_render_jobs() == [] and render_rows(me["tenant_id"]) == []


def test_malformed_json_is_refused_as_the_body(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = _sign_in(api, mailbox)
    response = api.post("/api/renders", content=b"{not json", headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["body"], response.json()
    assert queued_render_jobs() == []


def test_over_quota_is_402_with_the_numbers_and_queues_nothing(api: TestClient, mailbox: MailCatcher,
                                                               redis_client: redis.Redis, app_settings) -> None:
    app_settings.set(QUOTA_IMAGES_COUNT=3)
    headers, me = _sign_in(api, mailbox)

    response = api.post("/api/renders", json=render_payload(scenes=4), headers=headers)

    assert response.status_code == 402, response.text
    body = response.json()
    assert set(body) == {"error", "message", "metric", "used", "limit", "requested", "upgrade_url"}
    assert body["error"] == "quota_exceeded"
    assert (body["metric"], body["used"], body["limit"], body["requested"]) == ("images_count", 0, 3, 4)
    assert body["upgrade_url"] == f"{get_settings().APP_BASE_URL}{routes.BILLING}"
    assert "upgrade" in body["message"].lower()
    assert queued_render_jobs() == [] and render_rows(me["tenant_id"]) == []
    assert not redis_client.exists(f"usage:{me['tenant_id']}:resv")
    assert redis_client.scard(f"usage:{me['tenant_id']}:active") == 0
    submit_render(api, headers, scenes=3)  # an exact fit is fine


def test_quota_counts_what_was_charged_this_month(api: TestClient, mailbox: MailCatcher, session: Session,
                                                  app_settings) -> None:
    app_settings.set(QUOTA_IMAGES_COUNT=5)
    headers, me = _sign_in(api, mailbox)
    session.add(UsageRecord(tenant_id=me["tenant_id"], metric="images_count", amount=4, period=period_of(),
                            event_key="test:earlier-render:images"))
    session.commit()
    response = api.post("/api/renders", json=render_payload(scenes=2), headers=headers)
    assert response.status_code == 402
    assert (response.json()["used"], response.json()["requested"]) == (4, 2)
    submit_render(api, headers, scenes=1)


@pytest.mark.parametrize("premium", [{"resolution": "1080p"}, {"template": "sunset"}, {"template": "ocean"}])
def test_premium_options_need_pro(api: TestClient, mailbox: MailCatcher, session: Session, premium: dict) -> None:
    headers, me = _sign_in(api, mailbox)

    response = api.post("/api/renders", json=render_payload(**premium), headers=headers)

    assert response.status_code == 402, response.text
    body = response.json()
    assert body["error"] == "plan_required" and body["required_plan"] == "pro"
    assert body["upgrade_url"] == f"{get_settings().APP_BASE_URL}{routes.BILLING}"
    assert "Pro" in body["message"]
    assert queued_render_jobs() == [] and render_rows(me["tenant_id"]) == []

    set_plan(session, me["tenant_id"], "pro")
    created = submit_render(api, headers, **premium)
    assert render_job(created["id"]).get_status() == JobStatus.QUEUED


def test_a_second_render_on_free_waits_with_retry_after(api: TestClient, mailbox: MailCatcher) -> None:
    headers, me = _sign_in(api, mailbox)
    first = submit_render(api, headers)

    response = api.post("/api/renders", json=render_payload(), headers=headers)

    assert response.status_code == 429, response.text
    body = response.json()
    assert body["error"] == "rate_limited"
    assert response.headers["Retry-After"] == str(body["retry_after"]) and body["retry_after"] >= 1
    eta = datetime.fromisoformat(body["eta"])
    assert timedelta(0) < eta - datetime.now(UTC) <= timedelta(seconds=body["retry_after"])
    assert queued_render_jobs() == [queue.render_job_id(first["id"])]
    assert [r.id for r in render_rows(me["tenant_id"])] == [first["id"]]


def test_pro_runs_three_renders_at_once(api: TestClient, mailbox: MailCatcher, session: Session) -> None:
    headers, me = _sign_in(api, mailbox)
    set_plan(session, me["tenant_id"], "pro")
    for _ in range(3):
        submit_render(api, headers)
    assert api.post("/api/renders", json=render_payload(), headers=headers).status_code == 429
    assert len(queued_render_jobs()) == 3


def test_redis_down_is_503_with_retry_after_then_recovers(api: TestClient, mailbox: MailCatcher,
                                                         app_settings) -> None:
    headers, me = _sign_in(api, mailbox)
    app_settings.set(REDIS_URL="redis://127.0.0.1:1/15")

    response = api.post("/api/renders", json=render_payload(), headers=headers)

    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) == body["retry_after"] >= 1
    assert "try again" in body["message"].lower()
    assert render_rows(me["tenant_id"]) == []

    app_settings.restore()
    created = submit_render(api, headers)
    assert queued_render_jobs() == [queue.render_job_id(created["id"])]


def test_usage_while_redis_is_down_comes_from_the_ledger_not_a_500(
        api: TestClient, mailbox: MailCatcher, app_settings) -> None:
    headers, _ = _sign_in(api, mailbox)
    app_settings.set(REDIS_URL="redis://127.0.0.1:1/15")
    assert api.get("/api/renders", headers=headers).status_code == 200  # reading renders needs no Redis
    response = api.get("/api/usage", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "ledger"
    assert body["metrics"]["images_count"]["used"] == 0 and body["metrics"]["images_count"]["limit"] == 500


def test_a_queue_failure_after_admission_is_503_and_gives_the_reservation_back(
        api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis) -> None:
    headers, me = _sign_in(api, mailbox)
    redis_client.set("rq:queue:renders", "not a list")  # RQ's push fails after the quota was reserved

    response = api.post("/api/renders", json=render_payload(), headers=headers)

    assert response.status_code == 503, response.text
    assert "Retry-After" in response.headers
    [row] = render_rows(me["tenant_id"])
    assert row.status == "failed" and "nothing was charged" in row.error
    assert reserved(redis_client, me["tenant_id"]) == pytest.approx(NOTHING)
    assert redis_client.scard(f"usage:{me['tenant_id']}:active") == 0
    redis_client.delete("rq:queue:renders")
    submit_render(api, headers)  # the concurrency slot was freed


def test_low_disk_is_507_and_queues_nothing(api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis,
                                            app_settings) -> None:
    headers, me = _sign_in(api, mailbox)
    app_settings.set(MIN_FREE_DISK_MB=10**12)

    response = api.post("/api/renders", json=render_payload(), headers=headers)

    assert response.status_code == 507, response.text
    assert response.json()["error"] == "insufficient_storage"
    assert queued_render_jobs() == [] and render_rows(me["tenant_id"]) == []
    assert not redis_client.exists(f"usage:{me['tenant_id']}:resv")


# Catalogue


def test_templates_are_listed_with_distinct_colors(api: TestClient) -> None:
    response = api.get("/api/v1/templates")
    assert response.status_code == 200
    templates = response.json()["templates"]
    assert len(templates) >= 3
    assert len({t["id"] for t in templates}) == len(templates)
    assert len({(t["colors"]["top"], t["colors"]["bottom"]) for t in templates}) == len(templates)
    for t in templates:
        assert set(t) >= {"id", "name", "description", "premium", "colors"}
        for color in t["colors"].values():
            assert len(color) == 7 and color.startswith("#") and int(color[1:], 16) >= 0
    assert any(t["premium"] for t in templates) and sum(not t["premium"] for t in templates) >= 3


def test_voices_are_listed(api: TestClient) -> None:
    voices = api.get("/api/v1/voices").json()["voices"]
    assert {"id": "en", "name": "English"} in voices
    assert len({v["id"] for v in voices}) == len(voices) > 1
