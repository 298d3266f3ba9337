"""The reservation is a ceiling: a render whose real use runs past what admission reserved is
charged no more than the reservation and stops before the expensive steps (real RQ worker, espeak-ng)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import redis
from render_jobs import (
    WorkerHandle,
    assert_counters_match_ledger,
    assert_reservation_released,
    charges,
    jsonl_lines,
    load_render,
    load_steps,
    submit,
    wait_terminal,
    wait_wound_up,
)
from sqlmodel import Session

from saas_app.db import get_engine
from saas_app.models import Render
from saas_app.services.auth.sessions import Principal
from saas_app.services.renders.files import render_dir
from saas_app.services.usage.metrics import SPEECH

pytestmark = pytest.mark.db

# Read out in an English voice, kana take almost a second each: far more than this test reserves.
KANA = "こんにちはせかいカタカナひらがなにほんごのテキストです" * 4


def _reserve_only(render_id: str, metric: str, amount: float) -> dict[str, float]:
    """Shrink what the render has reserved for `metric` (an estimate that fell short); the new reservation."""
    with Session(get_engine()) as s:
        render = s.get(Render, render_id)
        assert render is not None
        estimate = {**json.loads(render.estimate_json), metric: amount}
        render.estimate_json = json.dumps(estimate)
        s.add(render)
        s.commit()
    return estimate


def test_a_render_that_speaks_longer_than_reserved_is_charged_the_reservation_and_stops(
    session: Session, principal: Principal, redis_client: redis.Redis,
    start_render_worker: Callable[..., WorkerHandle],
) -> None:
    render_id = submit(session, principal, scenes=[KANA[:150], "Short and plain."])
    reserved = _reserve_only(render_id, SPEECH.name, 5.0)  # before any worker runs it

    worker = start_render_worker()
    render = wait_terminal(render_id, worker)
    wait_wound_up(redis_client, render_id, worker)

    assert render.status == "failed"
    assert "more speech than was reserved" in render.error, render.error
    assert charges(render_id) == {("speech", SPEECH.name): reserved[SPEECH.name]}
    steps = load_steps(render_id)
    assert (steps["speech"].status, steps["images"].status, steps["video"].status) == ("done", "failed", "failed")
    assert not list(render_dir(render.tenant_id, render_id).glob("*.png")) and not list(
        render_dir(render.tenant_id, render_id).glob("video*"))
    logged = [line for line in jsonl_lines(render.tenant_id, render.period) if line.get("render_id") == render_id]
    assert [(line["metric"], line["amount"]) for line in logged] == [(SPEECH.name, reserved[SPEECH.name])]
    assert_counters_match_ledger(redis_client, render.tenant_id, render.period)
    assert_reservation_released(redis_client, render.tenant_id, render_id)


def test_a_render_within_its_reservation_is_charged_what_it_used(
    session: Session, principal: Principal, redis_client: redis.Redis, worker: WorkerHandle,
) -> None:
    render_id = submit(session, principal, scenes=[KANA[:60], "Short and plain."])
    render = wait_terminal(render_id, worker)

    assert render.status == "succeeded", render.error
    estimate = json.loads(load_render(render_id).estimate_json)
    for (_step, metric), amount in charges(render_id).items():
        assert amount <= estimate[metric], f"{metric}: charged {amount}, reserved {estimate[metric]}"
