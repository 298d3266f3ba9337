"""Enqueue latency: submit a render to an idle worker until its first step ("speech") starts.

Run: `.venv/bin/python -m bench.enqueue_latency` (or `python bench/enqueue_latency.py`).
Each of N runs submits through `renders.create_render` (admission + commit + enqueue), waits
for the render to finish so the worker is idle again, and reads `RenderStep.started_at` of
"speech". Goal: median under 100 ms. Uses Redis DB 11, a temp SQLite database and temp storage.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

try:
    from bench import _common
except ImportError:  # run as a file
    import _common  # type: ignore[no-redef]

# Settings are read once, on first use: point them at this run before importing the app.
TMP = _common.isolate("enqueue", redis_db=11)

from sqlmodel import Session, select

from saas_app.db import get_engine
from saas_app.models import Render, RenderStep
from saas_app.services.account.audit import RequestContext
from saas_app.services.renders import submission as renders
from saas_app.services.renders.input import RenderInput, SceneInput
from saas_app.services.renders.status import RenderStatus

GOAL_MS = 100.0
CTX = RequestContext(ip="127.0.0.1", user_agent="bench", request_id="bench")
REQUEST = RenderInput(topic="Latency", scenes=[SceneInput(text="Quick.")])


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _one(principal) -> dict[str, float]:  # type: ignore[no-untyped-def]
    submitted = datetime.now(UTC)
    call = time.perf_counter()
    with Session(get_engine(), expire_on_commit=False) as s:
        render_id = renders.create_render(session=s, principal=principal, request=REQUEST, ctx=CTX).id
    call = time.perf_counter() - call
    deadline = time.monotonic() + 60
    while True:
        with Session(get_engine()) as s:
            render = s.get(Render, render_id)
            assert render is not None
            if render.status in RenderStatus.TERMINAL:
                speech = s.exec(select(RenderStep).where(RenderStep.render_id == render_id,
                                                         RenderStep.name == "speech")).one()
                break
        if time.monotonic() > deadline:
            raise TimeoutError(f"render {render_id} did not finish in 60 s")
        time.sleep(0.02)
    if render.status != "succeeded":
        raise RuntimeError(f"render {render_id} ended {render.status}: {render.error}")
    assert render.started_at is not None and speech.started_at is not None
    return {"first step": (_utc(speech.started_at) - submitted).total_seconds() * 1000,
            "create_render call": call * 1000,
            "job picked up (render.started_at)": (_utc(render.started_at) - submitted).total_seconds() * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.3, help="seconds the worker idles before each submit")
    args = parser.parse_args()
    _common.prepare_database()
    principal = _common.make_principal(plan="enterprise", name="enqueue")
    worker = _common.Worker(TMP)
    runs = []
    try:
        worker.wait_idle()
        for _ in range(args.n):
            time.sleep(args.pause)
            runs.append(_one(principal))
    finally:
        worker.stop()
    rows = []
    for key in runs[0]:
        values = [r[key] for r in runs]
        rows.append((key, _common.median(values), _common.percentile(values, 95), min(values), max(values)))
    _common.table(f"Submit -> first step started, idle worker, n={args.n} (milliseconds)",
                  ["measured from submit", "median", "p95", "min", "max"], rows)
    med = _common.median([r["first step"] for r in runs])
    print(f"\n  median {med:.1f} ms (goal < {GOAL_MS:g} ms): {_common.verdict(med < GOAL_MS)}")
    print(f"  machine: {_common.machine()}")


if __name__ == "__main__":
    main()
