"""A metered step added from outside the product (tests/integration/jobs/toy_step.py: one module,
registered in one place) is estimated, admitted, run by a real worker, metered once and labelled."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
import redis
import toy_step
from factories import (
    queued_render_jobs,
    render_payload,
    render_rows,
    reserved,
    sign_in_headers,
    submit_render,
    usage_summary,
)
from fastapi.testclient import TestClient
from PIL import Image
from render_jobs import (
    WorkerHandle,
    assert_counters_match_ledger,
    assert_reservation_released,
    charges,
    jsonl_lines,
    ledger_by_key,
    step_metrics,
    stop_worker,
    wait_terminal,
)

from saas_app import routes
from saas_app.dev import processes
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.services.account.export_contents import readme
from saas_app.services.renders.files import render_dir
from saas_app.services.renders.input import RenderInput, estimate_usage
from saas_app.services.renders.steps.registry import STEPS, metrics_charged
from saas_app.services.usage.metrics import METRICS
from saas_app.services.usage.views import UsageSummary
from saas_app.settings import PROJECT_ROOT
from saas_app.state.formatting import charge_text, estimate_text, usage_rows

pytestmark = pytest.mark.db

HERE = Path(__file__).resolve().parent
SCENES = 2
FRAMES = toy_step.FRAMES_PER_SCENE * SCENES


@pytest.fixture
def toy_worker(tmp_path: Path) -> Iterator[WorkerHandle]:
    """A real worker process that registered the toy step before starting (`python -m toy_step`)."""
    env = processes.project_env({"PYTHONPATH": os.pathsep.join([str(HERE), str(PROJECT_ROOT)])})
    log_path = tmp_path / "logs" / "toy-worker.log"
    log_path.parent.mkdir(parents=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen([processes.PYTHON, "-m", "toy_step"], cwd=PROJECT_ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    worker = WorkerHandle(proc, log_path, env)
    yield worker
    stop_worker(worker)


def test_a_toy_step_is_estimated_admitted_run_metered_once_and_labelled(
    api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis, app_settings, toy_worker: WorkerHandle,
) -> None:
    headers, me = sign_in_headers(api, mailbox, "toy@example.com")
    payload = render_payload(scenes=SCENES)
    without = estimate_usage(RenderInput(**payload))
    with toy_step.registered():
        # Estimated: its own metric, plus the storage of the file it keeps.
        estimate = estimate_usage(RenderInput(**payload))
        assert estimate["preview_frames"] == FRAMES and "preview_frames" not in without
        assert estimate["storage_mb"] == pytest.approx(without["storage_mb"] + FRAMES * toy_step.MB_PER_FRAME)
        assert estimate_text("preview_frames", FRAMES) == f"{FRAMES} frames of preview"

        # Admitted against the quota of its metric: refused (nothing made) until it fits.
        app_settings.set(QUOTA_IMAGES_COUNT=FRAMES - 1)  # the images fit, the preview frames do not
        refused = api.post("/api/renders", json=payload, headers=headers)
        assert refused.status_code == 402, refused.text
        assert refused.json()["metric"] == "preview_frames"
        assert refused.json()["message"].startswith(f"Preview frames: this render needs {FRAMES:.0f} frames, ")
        assert render_rows(me["tenant_id"]) == [] and queued_render_jobs() == []
        app_settings.set(QUOTA_IMAGES_COUNT=FRAMES)
        created = submit_render(api, headers, scenes=SCENES)
        assert created["estimate"] == estimate
        assert reserved(redis_client, me["tenant_id"])["preview_frames"] == FRAMES
        pending = api.get(f"/api/renders/{created['id']}", headers=headers).json()["steps"]
        assert [(s["name"], s["label"]) for s in pending] == [(s.name, s.label) for s in STEPS]
        assert pending[-1]["label"] == "GIF preview"

        # Run by a real worker that knows the step.
        render = wait_terminal(created["id"], toy_worker)
        assert render.status == "succeeded", (render.error, toy_worker.log_tail())

        # Metered exactly once: one ledger row per (step, metric), the same events logged and counted.
        assert sorted(step_metrics(render.id)) == sorted(
            (step.name, metric) for step in STEPS for metric in metrics_charged(step))
        gif = render_dir(render.tenant_id, render.id) / toy_step.PREVIEW.filename
        charged = charges(render.id)
        assert charged[("preview", "preview_frames")] == FRAMES
        assert charged[("preview", "storage_mb")] == pytest.approx(gif.stat().st_size / 1048576, abs=1e-6)
        logged = {line["event_key"]: line["amount"] for line in jsonl_lines(render.tenant_id, render.period)
                  if line["render_id"] == render.id}
        assert logged == ledger_by_key(render.id)
        assert_counters_match_ledger(redis_client, render.tenant_id, render.period)
        assert_reservation_released(redis_client, render.tenant_id, render.id)
        summary = usage_summary(api, headers)
        assert summary["metrics"]["preview_frames"] == {"used": FRAMES, "limit": FRAMES, "percent": 100.0,
                                                        "remaining": 0.0}

        # Labelled wherever renders and usage are shown.
        detail = api.get(f"/api/renders/{render.id}", headers=headers).json()
        step = detail["steps"][-1]
        assert (step["name"], step["label"], step["status"]) == ("preview", "GIF preview", "done")
        assert step["detail"] == f"{FRAMES} preview frames" and detail["usage"]["preview_frames"] == FRAMES
        assert charge_text("preview_frames", FRAMES) == f"{FRAMES} frames previewed"
        [row] = [r for r in usage_rows(UsageSummary.model_validate(summary)) if r["metric"] == "preview_frames"]
        assert (row["label"], row["value"], row["color"]) == ("Preview frames", f"{FRAMES} / {FRAMES}", "red")

        # Its kept file is served, and exports describe it.
        response = api.get(routes.render_file(render.id, toy_step.PREVIEW.key), headers=headers)
        assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
        assert response.content == gif.read_bytes()
        with Image.open(BytesIO(response.content)) as image:
            assert image.n_frames == FRAMES
        assert "preview.gif" in readme("member") and "preview_frames" in readme("member")

    assert "preview" not in STEPS and "preview_frames" not in METRICS  # the registries are as they were
