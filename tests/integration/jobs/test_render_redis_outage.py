"""Redis going away under a running app and worker: 503s instead of 500s, recovery without a restart,
counters rebuilt from the ledger when Redis lost its data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from factories import bearer, sign_in_api
from fastapi.testclient import TestClient
from render_jobs import (
    SCENES,
    OwnRedis,
    WorkerHandle,
    fake_ffmpeg,
    ledger_sums,
    submit,
    wait_step,
    wait_terminal,
    wait_until,
    wait_worker_idle,
)
from sqlmodel import Session, select

from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import Render
from saas_app.services.auth.sessions import Principal
from saas_app.services.usage.ledger import period_of

pytestmark = pytest.mark.db


def _assert_usage_is_the_ledger(api: TestClient, headers: dict, tenant_id: str, source: str = "counters") -> None:
    """GET /api/usage answers the ledger's sums (from the Redis counters unless Redis is away)."""
    response = api.get("/api/usage", headers=headers)
    assert response.status_code == 200, response.text
    expected = ledger_sums(tenant_id, period_of())
    assert expected["tts_seconds"] > 0  # the first render was charged
    used = {metric: value["used"] for metric, value in response.json()["metrics"].items()}
    assert (response.json()["source"], used) == (source, {m: pytest.approx(round(v, 3), abs=1e-3)
                                                          for m, v in expected.items()})


def test_redis_outage_answers_503_and_the_app_recovers_with_or_without_its_data(
    api: TestClient, mailbox: MailCatcher, own_redis: OwnRedis,
    start_render_worker: Callable[..., WorkerHandle],
) -> None:
    worker = start_render_worker()
    tokens = sign_in_api(api, mailbox, "outage@example.com")
    headers, tenant_id = bearer(tokens["access_token"]), tokens["user"]["tenant_id"]
    body = {"topic": "Redis outage", "scenes": [{"text": "Counting survives a restart."}]}
    first = api.post("/api/renders", json=body, headers=headers)
    assert first.status_code == 202, first.text
    assert wait_terminal(first.json()["id"], worker).status == "succeeded"
    wait_worker_idle(worker)  # see test_the_worker_survives_redis_going_away_as_a_job_ends

    own_redis.stop()
    refused = api.post("/api/renders", json=body, headers=headers)
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"] == "service_unavailable"
    health = api.get("/api/health")
    assert (health.status_code, health.json()) == (503, {"status": "degraded", "db": "ok", "redis": "down"})
    _assert_usage_is_the_ledger(api, headers, tenant_id, source="ledger")
    with Session(get_engine()) as s:  # nothing half-created by the refused submission
        assert s.exec(select(Render.id).where(Render.tenant_id == tenant_id)).all() == [first.json()["id"]]

    own_redis.start(keep_data=True)  # same port, same append-only file
    assert api.get("/api/health").status_code == 200
    _assert_usage_is_the_ledger(api, headers, tenant_id)
    second = api.post("/api/renders", json=body, headers=headers)
    assert second.status_code == 202, second.text
    canceled = api.post(f"/api/renders/{second.json()['id']}/cancel", headers=headers)
    assert canceled.json()["status"] == "canceled"
    wait_terminal(second.json()["id"], worker)
    wait_worker_idle(worker)

    own_redis.stop()
    own_redis.start(keep_data=False)  # the data is gone: counters come back from the ledger by themselves
    _assert_usage_is_the_ledger(api, headers, tenant_id)
    third = api.post("/api/renders", json=body, headers=headers)
    assert third.status_code == 202, third.text
    assert wait_terminal(third.json()["id"], worker).status == "succeeded"
    _assert_usage_is_the_ledger(api, headers, tenant_id)


def test_a_render_that_ends_while_redis_is_down_frees_its_slot_and_is_counted(
    api: TestClient, mailbox: MailCatcher, own_redis: OwnRedis,
    start_render_worker: Callable[..., WorkerHandle], tmp_path: Path,
) -> None:
    worker = start_render_worker(FFMPEG_BINARY=str(fake_ffmpeg(tmp_path, "slow-ffmpeg", sleep=3)))
    tokens = sign_in_api(api, mailbox, "blip@example.com")
    headers, tenant_id = bearer(tokens["access_token"]), tokens["user"]["tenant_id"]
    body = {"topic": "Redis blip", "scenes": [{"text": "The video step outlives Redis."}]}
    submitted = api.post("/api/renders", json=body, headers=headers)
    assert submitted.status_code == 202, submitted.text
    render_id = submitted.json()["id"]
    wait_step(render_id, "video", "running", worker)

    own_redis.stop()  # the video step finishes while Redis is away
    assert wait_terminal(render_id, worker).status == "succeeded"
    own_redis.start(keep_data=True)

    again = api.post("/api/renders", json=body, headers=headers)  # free plan: one render at a time
    assert again.status_code == 202, again.text  # the slot the ended render held was freed
    _assert_usage_is_the_ledger(api, headers, tenant_id)  # its video charges were counted


def test_the_worker_survives_redis_going_away_as_a_job_ends(
    session: Session, principal: Principal, own_redis: OwnRedis,
    start_render_worker: Callable[..., WorkerHandle], tmp_path: Path,
) -> None:
    worker = start_render_worker(FFMPEG_BINARY=str(fake_ffmpeg(tmp_path, "slow-ffmpeg", sleep=3)))
    render_id = submit(session, principal, scenes=SCENES[:1])
    wait_step(render_id, "video", "running", worker)

    own_redis.stop()  # down from the middle of the video step until well after the job ended
    assert wait_terminal(render_id, worker).status == "succeeded"
    try:
        quit_ = wait_until(lambda: worker.proc.poll() is not None, 8, "the worker to quit")
    except AssertionError:
        quit_ = False
    own_redis.start(keep_data=True)

    errors = [line for line in worker.log_tail(400).splitlines() if " ERROR " in line][-2:]
    assert not quit_, "the worker exited while Redis was away:\n" + "\n".join(errors)
    assert wait_terminal(submit(session, principal, scenes=SCENES[:1]), worker).status == "succeeded"
