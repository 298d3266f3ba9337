"""Renders after submission, over HTTP: list, isolation, files, usage, cancel, delete, reconcile."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
import redis
from factories import (
    ledger_totals,
    make_render,
    make_user,
    queued_render_jobs,
    render_job,
    render_payload,
    render_rows,
    reserved,
    sign_in_headers,
    submit_render,
    usage_summary,
)
from fastapi.testclient import TestClient
from rq.job import JobStatus
from sqlmodel import Session

from saas_app import routes
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.jobs.reconcile import reconcile
from saas_app.models import User
from saas_app.services.renders import pipeline
from saas_app.services.renders.files import render_dir
from saas_app.services.renders.input import RenderInput, estimate_usage
from saas_app.services.renders.steps.registry import STEPS, kept_files, metrics_charged
from saas_app.services.usage.ledger import period_of, usage_log_path
from saas_app.services.usage.metrics import METRICS, monthly_names

pytestmark = pytest.mark.db

ALICE, BOB = "alice@example.com", "bob@example.com"
NOTHING = dict.fromkeys(METRICS.names(), 0.0)


def _sign_in(api: TestClient, mailbox: MailCatcher, email: str = ALICE) -> tuple[dict, dict]:
    return sign_in_headers(api, mailbox, email)


def _run(render_id: str) -> None:
    assert pipeline.run_render(render_id=render_id, retries_left=0) == "succeeded"


# Reading, and other tenants


def test_the_list_is_newest_first_and_paginated(api: TestClient, mailbox: MailCatcher, session: Session) -> None:
    headers, me = _sign_in(api, mailbox)
    user = session.get(User, me["user_id"])
    start = datetime.now(UTC) - timedelta(hours=1)
    made = [make_render(session, user, topic=f"Topic {n}", created_at=start + timedelta(minutes=n)).id
            for n in range(5)]
    make_render(session, user, topic="Deleted", deleted_at=start)
    make_render(session, make_user(session), topic="Someone else's")
    newest_first = list(reversed(made))

    first = api.get("/api/renders", params={"limit": 2}, headers=headers).json()
    rest = api.get("/api/renders", params={"limit": 2, "offset": 2}, headers=headers).json()
    last = api.get("/api/renders", params={"limit": 2, "offset": 4}, headers=headers).json()
    beyond = api.get("/api/renders", params={"offset": 10}, headers=headers).json()

    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    assert [i["id"] for i in first["items"] + rest["items"] + last["items"]] == newest_first
    assert beyond["items"] == [] and beyond["total"] == 5
    assert first["items"][0]["topic"] == "Topic 4" and first["items"][0]["has_video"] is False
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        assert api.get("/api/renders", params=bad, headers=headers).status_code == 422


def test_another_tenants_render_is_not_found_everywhere(api: TestClient, mailbox: MailCatcher) -> None:
    alice, _ = _sign_in(api, mailbox, ALICE)
    bob_headers, bob = _sign_in(api, mailbox, BOB)
    theirs = submit_render(api, bob_headers)["id"]
    _run(theirs)  # finished: its files exist, so only the tenant check can refuse them (not "not ready")
    files = [f"/api/renders/{theirs}/video", f"/api/renders/{theirs}/thumbnail",
             *[routes.render_file(theirs, kept.key) for kept in kept_files()]]
    for url in files:
        assert api.get(url, headers=bob_headers).status_code == 200, url

    checks = [("GET", f"/api/renders/{theirs}"), ("GET", f"/api/renders/{theirs}/video"),
              ("GET", f"/api/renders/{theirs}/thumbnail"), ("POST", f"/api/renders/{theirs}/cancel"),
              ("DELETE", f"/api/renders/{theirs}"), ("GET", "/api/renders/no-such-render"),
              *[("GET", routes.render_file(theirs, kept.key)) for kept in kept_files()]]
    for method, url in checks:
        response = api.request(method, url, headers=alice)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error"] == "not_found"
    assert api.get(f"/api/renders/{'x' * 200}", headers=alice).status_code == 422  # no id is that long
    assert api.get("/api/renders", headers=alice).json()["total"] == 0

    mine = api.get(f"/api/renders/{theirs}", headers=bob_headers).json()
    assert mine["status"] == "succeeded"  # untouched by the attempts above
    assert [r.id for r in render_rows(bob["tenant_id"])] == [theirs]
    for url in files:
        assert api.get(url, headers=bob_headers).status_code == 200, url


@pytest.mark.parametrize(("method", "url"), [
    ("POST", "/api/renders"), ("POST", "/render"), ("GET", "/api/renders"), ("GET", "/api/renders/abc"),
    ("GET", "/api/renders/abc/video"), ("GET", "/api/renders/abc/thumbnail"), ("POST", "/api/renders/abc/cancel"),
    ("DELETE", "/api/renders/abc"), ("GET", "/api/usage"), ("GET", "/api/renders/abc/files/video"),
])
def test_every_render_route_needs_sign_in(api: TestClient, method: str, url: str) -> None:
    kwargs = {"json": render_payload()} if method == "POST" else {}
    response = api.request(method, url, **kwargs)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert queued_render_jobs() == []


def test_a_render_that_is_not_finished_has_no_files_yet(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = _sign_in(api, mailbox)
    created = submit_render(api, headers)
    urls = [f"/api/renders/{created['id']}/video", f"/api/renders/{created['id']}/thumbnail",
            *[routes.render_file(created["id"], kept.key) for kept in kept_files()]]
    for url in urls:
        response = api.get(url, headers=headers)
        assert response.status_code == 404 and "not ready" in response.json()["message"], url


# A real render, run in process


def test_a_finished_render_shows_steps_usage_and_serves_files(api: TestClient, mailbox: MailCatcher,
                                                              redis_client: redis.Redis) -> None:
    headers, me = _sign_in(api, mailbox)
    created = submit_render(api, headers, scenes=2)
    _run(created["id"])

    detail = api.get(f"/api/renders/{created['id']}", headers=headers).json()
    assert detail["status"] == "succeeded" and detail["has_video"] is True and detail["error"] is None
    assert [(s["name"], s["status"], s["progress"]) for s in detail["steps"]] == [
        (step.name, "done", 1.0) for step in STEPS]
    usage = detail["usage"]
    assert set(usage) == set(METRICS.names()) and usage["images_count"] == 2
    assert all(usage[m] > 0 for m in METRICS.names())
    assert all(usage[m] <= created["estimate"][m] for m in METRICS.names()), (usage, created["estimate"])
    assert detail["duration_seconds"] > 0 and detail["size_bytes"] > 0

    folder = render_dir(me["tenant_id"], created["id"])
    video = (folder / "video.mp4").read_bytes()
    full = api.get(f"/api/renders/{created['id']}/video", headers=headers)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert full.content == video and video[4:8] == b"ftyp"
    assert full.headers["content-disposition"] == 'attachment; filename="tiny-facts.mp4"'  # the topic "Tiny facts"
    ranged = api.get(f"/api/renders/{created['id']}/video", headers={**headers, "Range": "bytes=0-99"})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 0-99/{len(video)}"
    assert ranged.content == video[:100]
    tail = api.get(f"/api/renders/{created['id']}/video", headers={**headers, "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == video[-10:]
    thumb = api.get(f"/api/renders/{created['id']}/thumbnail", headers=headers)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:2] == b"\xff\xd8"
    assert thumb.headers["content-disposition"] == 'inline; filename="tiny-facts-thumbnail.jpg"'
    for kept in kept_files():  # every kept file is also served by its key, with its step's media type
        served = api.get(routes.render_file(created["id"], kept.key), headers=headers)
        assert served.status_code == 200 and served.headers["content-type"] == kept.media_type
        assert served.content == (folder / kept.filename).read_bytes()
    assert api.get(routes.render_file(created["id"], "nope"), headers=headers).status_code == 404

    summary = usage_summary(api, headers)
    assert set(summary) == {"period", "plan", "reset_at", "metrics", "source"}
    assert (summary["period"], summary["plan"]) == (period_of(), "free")
    assert datetime.fromisoformat(summary["reset_at"]).day == 1
    ledger = ledger_totals(me["tenant_id"])
    assert set(summary["metrics"]) == set(METRICS.names())
    for metric, values in summary["metrics"].items():
        assert set(values) == {"used", "limit", "percent", "remaining"}
        assert values["used"] == pytest.approx(ledger[metric], abs=1e-3) == pytest.approx(usage[metric], abs=1e-3)
        assert values["remaining"] == pytest.approx(values["limit"] - values["used"], abs=1e-3)
        assert 0 <= values["percent"] <= 100
    assert reserved(redis_client, me["tenant_id"]) == pytest.approx(NOTHING)
    assert redis_client.scard(f"usage:{me['tenant_id']}:active") == 0

    log_lines = [json.loads(line) for line in
                 usage_log_path(me["tenant_id"], period_of()).read_text().splitlines()]
    assert sorted(line["metric"] for line in log_lines) == sorted(  # one line per step and metric it charges
        metric for step in STEPS for metric in metrics_charged(step))
    assert len({line["event_key"] for line in log_lines}) == len(log_lines)

    cancel = api.post(f"/api/renders/{created['id']}/cancel", headers=headers)
    assert cancel.status_code == 409 and cancel.json()["error"] == "conflict"


def test_a_render_admitted_within_quota_never_ends_over_it(api: TestClient, mailbox: MailCatcher,
                                                          app_settings) -> None:
    # Figures and symbols speak far longer than their length; the quota just fits the estimate.
    scenes = [{"text": "In 2024, revenue grew 15% to $3.2M."}]
    limit = math.ceil(estimate_usage(RenderInput(**render_payload(scenes=scenes)))["tts_seconds"])
    app_settings.set(QUOTA_TTS_SECONDS=limit)
    headers, _ = _sign_in(api, mailbox)
    created = submit_render(api, headers, scenes=scenes)
    assert created["estimate"]["tts_seconds"] <= limit  # admitted: the estimate fits
    _run(created["id"])

    speech = usage_summary(api, headers)["metrics"]["tts_seconds"]
    assert speech["used"] <= speech["limit"], speech


def test_deleting_a_render_frees_its_storage(api: TestClient, mailbox: MailCatcher) -> None:
    headers, me = _sign_in(api, mailbox)
    created = submit_render(api, headers)
    _run(created["id"])
    used_before = usage_summary(api, headers)["metrics"]
    assert used_before["storage_mb"]["used"] > 0
    folder = render_dir(me["tenant_id"], created["id"])
    assert folder.exists()

    response = api.delete(f"/api/renders/{created['id']}", headers=headers)

    assert response.status_code == 200 and response.json() == {"id": created["id"], "deleted": True}
    assert not any((folder / kept.filename).exists() for kept in kept_files())
    after = usage_summary(api, headers)["metrics"]
    assert after["storage_mb"]["used"] == 0
    assert ledger_totals(me["tenant_id"])["storage_mb"] == 0
    for metric in monthly_names():  # what was rendered stays charged
        assert after[metric]["used"] == used_before[metric]["used"]
    assert api.get("/api/renders", headers=headers).json() == {"items": [], "total": 0, "limit": 20, "offset": 0}
    for url in (f"/api/renders/{created['id']}", f"/api/renders/{created['id']}/video"):
        assert api.get(url, headers=headers).status_code == 404
    assert api.delete(f"/api/renders/{created['id']}", headers=headers).status_code == 404


def test_canceling_a_queued_render_releases_its_reservation(api: TestClient, mailbox: MailCatcher,
                                                            redis_client: redis.Redis) -> None:
    headers, me = _sign_in(api, mailbox)
    created = submit_render(api, headers)
    assert reserved(redis_client, me["tenant_id"]) == pytest.approx(created["estimate"])

    response = api.post(f"/api/renders/{created['id']}/cancel", headers=headers)

    assert response.status_code == 200 and response.json() == {"id": created["id"], "status": "canceled"}
    detail = api.get(f"/api/renders/{created['id']}", headers=headers).json()
    assert detail["status"] == "canceled" and {s["status"] for s in detail["steps"]} == {"canceled"}
    assert reserved(redis_client, me["tenant_id"]) == pytest.approx(NOTHING)
    assert redis_client.scard(f"usage:{me['tenant_id']}:active") == 0
    assert all(v["used"] == 0 for v in usage_summary(api, headers)["metrics"].values())
    assert render_job(created["id"]).get_status() == JobStatus.CANCELED
    assert queued_render_jobs() == []
    assert api.post(f"/api/renders/{created['id']}/cancel", headers=headers).status_code == 409

    assert pipeline.run_render(render_id=created["id"], retries_left=0) == "canceled"  # a late worker does nothing
    assert ledger_totals(me["tenant_id"]) == NOTHING
    submit_render(api, headers)  # the slot is free again


def test_deleting_a_queued_render_cancels_it_first(api: TestClient, mailbox: MailCatcher,
                                                   redis_client: redis.Redis) -> None:
    headers, me = _sign_in(api, mailbox)
    created = submit_render(api, headers)
    assert api.delete(f"/api/renders/{created['id']}", headers=headers).status_code == 200
    assert render_job(created["id"]).get_status() == JobStatus.CANCELED
    assert reserved(redis_client, me["tenant_id"]) == pytest.approx(NOTHING)
    submit_render(api, headers)


# Reconciling


def test_reconcile_after_redis_loss_matches_theledger_totals(api: TestClient, mailbox: MailCatcher,
                                                       redis_client: redis.Redis) -> None:
    headers, me = _sign_in(api, mailbox)
    done = submit_render(api, headers)
    _run(done["id"])
    waiting = submit_render(api, headers)  # queued, never run: its reservation must come back too
    before = usage_summary(api, headers)

    redis_client.flushdb()
    result = reconcile()

    assert result["tenants"] >= 1 and result["requeued"] == 1
    assert render_job(waiting["id"]).get_status() == JobStatus.QUEUED
    after = usage_summary(api, headers)
    assert after == before
    ledger = ledger_totals(me["tenant_id"])
    assert {m: v["used"] for m, v in after["metrics"].items()} == pytest.approx(ledger, abs=1e-3)
    assert reserved(redis_client, me["tenant_id"]) == pytest.approx(waiting["estimate"])
    assert api.post("/api/renders", json=render_payload(), headers=headers).status_code == 429  # slot restored
