"""One structured line per request and per render step (JSON with LOG_FORMAT=json), and the request
id of a submission carried into its job and onto the worker's lines for that render."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from factories import render_payload, sign_in_headers
from fastapi.testclient import TestClient
from render_jobs import WorkerHandle, wait_terminal
from rq.job import Job
from rq.serializers import JSONSerializer

from saas_app.dev.mailcatcher import MailCatcher
from saas_app.services.core import logs
from saas_app.services.core.queue import get_rq_connection, render_job_id
from saas_app.services.renders.steps.registry import STEPS

pytestmark = pytest.mark.db
RID = "trace42abc"


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    """The access log's lines, formatted as in production with LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger(logs.ACCESS_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_request_logs_one_line_and_its_id_follows_the_render_into_the_worker(
    api: TestClient, mailbox: MailCatcher, access_lines: io.StringIO,
    start_render_worker: Callable[..., WorkerHandle],
) -> None:
    headers, me = sign_in_headers(api, mailbox, "logs@example.com")
    access_lines.seek(0)
    access_lines.truncate()
    created = api.post("/api/renders", json=render_payload(), headers={**headers, "X-Request-ID": RID})
    assert created.status_code == 202 and created.headers["X-Request-ID"] == RID
    render_id = created.json()["id"]
    api.get(f"/api/renders/{render_id}", headers=headers)

    post, get = _json_lines(access_lines.getvalue())
    assert (post["request_id"], post["method"], post["route"], post["status"]) == (RID, "POST", "/api/renders", 202)
    assert (post["tenant_id"], post["user"]) == (me["tenant_id"], me["user_id"])
    assert post["duration_ms"] >= 0 and post["logger"] == logs.ACCESS_LOGGER and post["level"] == "info"
    assert get["route"] == "/api/renders/{render_id}" and get["request_id"] != RID  # a new id per request
    job = Job.fetch(render_job_id(render_id), connection=get_rq_connection(), serializer=JSONSerializer)
    assert job.meta.get("request_id") == RID, job.meta

    worker = start_render_worker(LOG_FORMAT="json")
    assert wait_terminal(render_id, worker).status == "succeeded", worker.log_tail()
    steps = [line for line in _json_lines(worker.log_path.read_text(errors="replace"))
             if line.get("logger") == logs.STEP_LOGGER and line.get("render_id") == render_id]
    assert [(s["step"], s["outcome"]) for s in steps] == [(name, "done") for name in STEPS.names()]
    for line in steps:
        assert (line["request_id"], line["tenant_id"], line["user"]) == (RID, me["tenant_id"], me["user_id"])
        assert line["job_id"] == render_job_id(render_id) and line["duration_ms"] > 0


def test_an_api_key_caller_is_logged_by_its_prefix_never_its_secret(
    api: TestClient, mailbox: MailCatcher, access_lines: io.StringIO,
) -> None:
    headers, me = sign_in_headers(api, mailbox, "keys@example.com")
    key = api.post("/api/account/api-keys", json={"name": "ci"}, headers=headers).json()
    secret = key["key"]
    access_lines.seek(0)
    access_lines.truncate()
    assert api.get("/api/usage", headers={"Authorization": f"Bearer {secret}"}).status_code == 200

    [line] = _json_lines(access_lines.getvalue())
    assert line["user"].startswith("key:nsk_") and secret not in access_lines.getvalue()
    assert line["tenant_id"] == me["tenant_id"] and line["route"] == "/api/usage"
