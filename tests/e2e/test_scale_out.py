"""Scale-out: two app processes and two workers with no shared local disk, on PostgreSQL, one Redis
and S3 (moto), behind a balancer without sticky sessions (see scaleout_cluster.py).

- A tab signed in on app A is served by app B after a reload, still signed in and with its draft
  (Reflex's Redis state manager); the render it submits downloads in the browser from S3.
- Twenty renders submitted alternately to A and B all finish exactly once, each charged once and
  downloadable from both apps, although one worker is SIGKILLed in the middle of a render.
- SIGTERM to an app process: the request in flight completes, new connections are refused.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
import sqlalchemy as sa
from e2e_helpers import UI_TIMEOUT_MS, LiveApp, expect_signed_in, sign_in
from e2e_renders import fill_form, submit_render, wait_succeeded
from playwright.sync_api import Browser, expect
from rq import Worker
from s3_server import Bucket, S3Server
from scaleout_cluster import PG_TEST_URL, Cluster, Proc, build_frontend, free_port, shared_env, tail
from shared_helpers import create_test_database, drop_test_database
from tcp_proxy import TcpProxy

from saas_app.dev import processes
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.services.renders.steps.registry import STEPS, metrics_charged

pytestmark = pytest.mark.e2e

RENDERS = 20
RENDER_TIMEOUT = 240  # twenty short renders on two cores, plus the time RQ takes to notice a dead worker
ALL_CHARGES = sorted((step.name, metric) for step in STEPS for metric in metrics_charged(step))


@pytest.fixture(autouse=True)
def _fresh_limits_and_mailbox() -> None:
    """This module runs a cluster of its own, not the suite's live app (overrides the conftest's)."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("scaleout")
    try:
        database_url = create_test_database(PG_TEST_URL)
    except sa.exc.OperationalError as exc:
        pytest.fail(f"the scale-out test needs PostgreSQL at PG_TEST_URL={PG_TEST_URL}: {exc}", pytrace=False)
    redis_port = free_port()
    redis_server = processes.start_redis_server(redis_port, tmp / "redis")
    mail = MailCatcher("127.0.0.1", free_port(), mail_dir=tmp / "mail", echo=False)
    mail.start()
    bucket = Bucket(s3_server, s3_server.new_bucket())
    proxy = TcpProxy().start()
    env = shared_env(base_url=proxy.url, database_url=database_url, redis_port=redis_port, mail_port=mail.port,
                     s3_env=s3_server.env(bucket.name))
    cluster = Cluster(tmp=tmp, env=env, proxy=proxy, mail=mail, bucket=bucket, build=tmp / "build" / ".web",
                      redis=redis.Redis(port=redis_port, decode_responses=True))
    try:
        processes.migrate(env)
        build_frontend(env, cluster.build)
        cluster.start_app("a")
        cluster.start_app("b")
        proxy.route_to("a")
        cluster.start_worker("1")
        cluster.start_worker("2")
        yield cluster
    finally:
        cluster.stop()
        processes.stop_all([redis_server])
        drop_test_database(database_url)


def _email() -> str:
    return f"scale-{uuid.uuid4().hex[:10]}@example.com"


def _video_key(tenant_id: str, render_id: str) -> str:
    return f"{tenant_id}/renders/{render_id}/video.mp4"


def test_a_tab_signed_in_on_app_a_reloads_on_app_b_signed_in_with_its_draft(cluster: Cluster,
                                                                            browser: Browser) -> None:
    cluster.proxy.route_to("a")
    context = browser.new_context(base_url=cluster.base_url, accept_downloads=True)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    email = _email()
    balancer = LiveApp(base_url=cluster.base_url, port=cluster.proxy.port, mail=cluster.mail, db_path=Path(),
                       redis=cluster.redis, tmp_dir=cluster.tmp)
    sign_in(page, balancer, email)
    fill_form(page, "A draft that moves", [("It starts on one process", None), ("and goes on another", None)])
    served_by_a = cluster.proxy.connections["a"]

    cluster.proxy.route_to("b")  # app A leaves the balancer; its connections close
    page.reload()
    expect_signed_in(page, email)
    expect(page.locator("#topic")).to_have_value("A draft that moves")
    expect(page.locator("#scene-text-0")).to_have_value("It starts on one process")
    expect(page.locator("#scene-text-1")).to_have_value("and goes on another")
    assert cluster.proxy.connections["a"] == served_by_a and cluster.proxy.connections["b"] > 0

    render_id = submit_render(page)
    wait_succeeded(page)
    with page.expect_download() as started:  # a link to the API's download, which redirects to S3
        page.evaluate("url => { const a = document.createElement('a'); a.href = url; "
                      "document.body.appendChild(a); a.click(); }", f"/api/renders/{render_id}/video")
    download = started.value
    assert download.suggested_filename == "a-draft-that-moves.mp4"  # named after the topic
    [(tenant_id,)] = cluster.query("SELECT tenant_id FROM render WHERE id = :id", id=render_id)
    assert Path(download.path()).read_bytes() == cluster.bucket.read(_video_key(tenant_id, render_id))
    context.close()


def _payload(number: int) -> dict:
    return {"topic": f"Scale-out render {number}",
            "scenes": [{"text": f"Render {number} opens on a quiet harbour."},
                       {"text": "Boats leave with the tide and come back at dusk."}]}


def _kill_mid_render(cluster: Cluster, worker: Proc, timeout: float = 120) -> str:
    """SIGKILL a worker (and its work-horse) once a render it runs has finished a step; the render's id."""
    connection = redis.Redis.from_url(cluster.env["REDIS_URL"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [w for w in Worker.all(connection=connection) if w.pid == worker.proc.pid]
        job_id = mine[0].get_current_job_id() if mine else None
        if job_id is not None and job_id.startswith("render-"):
            render_id = job_id.removeprefix("render-")
            steps = dict(cluster.query("SELECT name, status FROM renderstep WHERE render_id = :id", id=render_id))
            if steps.get("speech") == "done" and steps.get("video") != "done":
                cluster.kill(worker)
                return render_id
        time.sleep(0.05)
    raise AssertionError(f"worker {worker.name} ran no render to catch mid-way\n{tail(worker.log)}")


def _wait_ended(cluster: Cluster, ids: list[str]) -> dict[str, str]:
    deadline = time.monotonic() + RENDER_TIMEOUT
    while True:
        statuses = {rid: status for rid, status in cluster.query("SELECT id, status FROM render") if rid in ids}
        if all(status in ("succeeded", "failed", "canceled") for status in statuses.values()):
            return statuses
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- worker {w.name} ---\n{tail(w.log)}" for w in cluster.workers.values())
            raise AssertionError(f"renders still unfinished after {RENDER_TIMEOUT}s: {statuses}\n{logs}")
        time.sleep(0.2)


def _ledger_sums(cluster: Cluster, tenant_id: str) -> dict[str, float]:
    return {metric: float(total) for metric, total in cluster.query(
        "SELECT metric, SUM(amount) FROM usagerecord WHERE tenant_id = :t GROUP BY metric", t=tenant_id)}


def _local_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_twenty_renders_on_two_apps_finish_once_though_a_worker_is_killed(cluster: Cluster) -> None:
    apps = [cluster.apps["a"], cluster.apps["b"]]
    users = [cluster.sign_in_api(apps[0], _email()), cluster.sign_in_api(apps[1], _email())]
    ids = []
    for number in range(RENDERS):  # alternately to A and B; ten per workspace (Enterprise runs ten at once)
        answer = httpx.post(f"{apps[number % 2].url}/api/renders", json=_payload(number),
                            headers=users[number * 2 // RENDERS], timeout=30)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])

    victim = _kill_mid_render(cluster, cluster.workers["1"])
    assert set(_wait_ended(cluster, ids).values()) == {"succeeded"}

    charged: dict[str, list[tuple[str, str]]] = {rid: [] for rid in ids}
    for rid, event_key in cluster.query("SELECT render_id, event_key FROM usagerecord"):
        if rid in charged:
            _, _, step, metric = event_key.split(":")
            charged[rid].append((step, metric))
    assert {rid: sorted(pairs) for rid, pairs in charged.items()} == {rid: ALL_CHARGES for rid in ids}
    tenants = {rid: tenant for rid, tenant in cluster.query("SELECT id, tenant_id FROM render") if rid in ids}
    for headers, tenant in ((users[0], tenants[ids[0]]), (users[1], tenants[ids[-1]])):
        ledger = _ledger_sums(cluster, tenant)
        for app in apps:  # the Redis counters both apps read: each charge counted once
            usage = httpx.get(f"{app.url}/api/usage", headers=headers, timeout=30).json()
            assert {m: v["used"] for m, v in usage["metrics"].items()} == pytest.approx(
                {m: round(ledger.get(m, 0.0), 3) for m in usage["metrics"]}, abs=1e-3)

    [(attempts,)] = cluster.query("SELECT attempts FROM render WHERE id = :id", id=victim)
    assert attempts >= 2  # started on worker 1, finished on worker 2 ...
    killed_dir = cluster.workers["1"].workdir / "storage" / tenants[victim] / "renders" / victim
    assert any(p.suffix == ".wav" for p in _local_files(killed_dir))  # ... which could not use these
    assert _local_files(cluster.workers["2"].workdir / "storage") == []
    cluster.start_worker("1")  # started again on its disk, it removes what the killed one left
    _wait_until(lambda: not killed_dir.exists(), "the killed worker's work files to be removed")

    for number, rid in enumerate(ids):
        video = cluster.bucket.read(_video_key(tenants[rid], rid))
        for app in apps:
            redirect = httpx.get(f"{app.url}/api/renders/{rid}/video", headers=users[number * 2 // RENDERS])
            assert redirect.status_code == 307, redirect.text
            fetched = httpx.get(redirect.headers["location"])
            assert fetched.content == video
            assert fetched.headers["content-disposition"] == f'attachment; filename="scale-out-render-{number}.mp4"'
    for app in apps:  # nothing of the renders on the apps' disks
        assert _local_files(app.workdir / "storage") == [] and _local_files(app.workdir / "exports") == []


def test_sigterm_lets_an_app_process_finish_its_requests_and_refuse_new_ones(cluster: Cluster) -> None:
    app = cluster.start_app("c")
    headers = cluster.sign_in_api(cluster.apps["a"], _email())
    body = json.dumps(_payload(99)).encode()
    head = (f"POST /api/renders HTTP/1.1\r\nHost: 127.0.0.1:{app.port}\r\nContent-Type: application/json\r\n"
            f"Authorization: {headers['Authorization']}\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", app.port), timeout=30) as client:
        client.sendall(head)
        assert client.recv(64).startswith(b"HTTP/1.1 100 Continue")  # the app is reading this request
        os.kill(app.proc.pid, signal.SIGTERM)
        _wait_refused(app.port)
        client.sendall(body)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 202 Accepted", answer[:300]
    render_id = json.loads(rest.partition(b"\r\n\r\n")[2])["id"]
    check = httpx.get(f"{cluster.apps['b'].url}/api/renders/{render_id}", headers=headers, timeout=30)
    assert check.status_code == 200 and check.json()["topic"] == "Scale-out render 99"
    assert app.proc.wait(timeout=60) == 0, tail(app.log)


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.1)


def _wait_refused(port: int, timeout: float = 30) -> None:
    """Wait until connecting to the port is refused (the server closed its listening socket)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except ConnectionRefusedError:
            return
        assert time.monotonic() < deadline, f"port {port} still accepts connections {timeout}s after SIGTERM"
        time.sleep(0.05)
