"""Helpers for the render job tests: real worker processes, polling, ledger/counter reads.

Imported as a top-level module (pytest puts this folder on sys.path for the conftest and the
tests beside it), so the name is unique to this suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import psutil
import redis
from factories import CTX, clear_rate_limits, request_link
from rq import Queue
from rq import Worker as RqWorker
from sqlmodel import Session, select

from saas_app.db import get_engine
from saas_app.dev import processes
from saas_app.models import Render, RenderStep, UsageRecord
from saas_app.services.auth import magic_links
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.queue import QUEUE_NAMES, get_rq_connection
from saas_app.services.renders import submission as renders
from saas_app.services.renders.input import RenderInput, SceneInput
from saas_app.services.renders.status import RenderStatus
from saas_app.services.usage.ledger import sum_usage, usage_log_path
from saas_app.services.usage.metrics import METRICS, gauge_names

RENDER_TIMEOUT = 60.0
SCENES = [
    "Honey bees dance to tell each other where the flowers are.",
    "A single hive can visit millions of blossoms in a season.",
    "Without pollinators, many fruits would never form.",
]


@dataclass
class WorkerHandle:
    """A running `python -m saas_app.jobs.worker` and where it logs."""

    proc: subprocess.Popen
    log_path: Path
    env: dict[str, str]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no worker log: {exc})"

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []


def start_worker(log_dir: Path) -> WorkerHandle:
    """A real worker with this process's environment (same DB, Redis, storage and usage log)."""
    env = processes.project_env()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"worker-{time.monotonic_ns()}.log"
    return WorkerHandle(processes.start_worker(env, log_path=log_path), log_path, env)


def stop_worker(worker: WorkerHandle, timeout: float = 10.0) -> None:
    """Stop the worker and everything it started, even a job that is still running.

    SIGTERM first asks RQ for a warm shutdown (no new job is taken); the running work-horse,
    which has a process group of its own, is then killed so the worker need not wait for it.
    """
    seen = {p.pid: p for p in worker.descendants()}
    if worker.proc.poll() is None:
        worker.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while worker.proc.poll() is None and time.monotonic() < deadline:
        for proc in worker.descendants():
            seen[proc.pid] = proc
            if _pgid(proc) not in (None, worker.pid):
                _kill([proc])
        time.sleep(0.05)
    processes.stop_all([worker.proc], timeout=2)
    _kill(list(seen.values()))


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except ProcessLookupError:
        return None


def _kill(procs: list[psutil.Process]) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=5)


def sign_in_principal(session: Session, smtp, rc: redis.Redis, email: str) -> Principal:  # type: ignore[no-untyped-def]
    """A real signed-in user: request a magic link, consume it from the email, open a session."""


    clear_rate_limits(rc)
    token, _ = request_link(session, smtp, email)
    link = magic_links.consume_link_token(session=session, token=token)
    principal, _ = auth_sessions.sign_in_with_link(session=session, link=link, ctx=CTX, kind="api")
    session.commit()
    return principal


def submit(session: Session, principal: Principal, scenes: list[str] | None = None, **options: str) -> str:
    """Submit a render through the service (admission, ledger reservation, enqueue); returns its id."""
    request = RenderInput(topic="Why bees matter", scenes=[SceneInput(text=t) for t in (scenes or SCENES)],
                          **options)
    render = renders.create_render(session=session, principal=principal, request=request, ctx=CTX)
    return render.id


def load_render(render_id: str) -> Render:
    with Session(get_engine(), expire_on_commit=False) as s:
        render = s.get(Render, render_id)
        assert render is not None
        return render


def load_steps(render_id: str) -> dict[str, RenderStep]:
    with Session(get_engine(), expire_on_commit=False) as s:
        return {st.name: st for st in s.exec(select(RenderStep).where(RenderStep.render_id == render_id)).all()}


def wait_until(check: Callable[[], object], timeout: float, what: str, worker: WorkerHandle | None = None,
               interval: float = 0.05) -> object:
    """Poll `check` until it returns something truthy; fail with the worker's log otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = worker.log_tail() if worker else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n--- worker log ---\n{tail}")
        time.sleep(interval)


def wait_terminal(render_id: str, worker: WorkerHandle | None = None, timeout: float = RENDER_TIMEOUT) -> Render:
    """Poll the database until the render is succeeded, failed or canceled."""
    def check() -> Render | None:
        render = load_render(render_id)
        return render if render.status in RenderStatus.TERMINAL else None
    return wait_until(check, timeout, f"render {render_id} to finish", worker, interval=0.1)  # type: ignore[return-value]


def wait_worker_idle(worker: WorkerHandle, timeout: float = 20.0) -> None:
    """Wait until every registered worker is idle and the queues are empty (e.g. the maintenance
    job the worker queues at start-up has run), then a little longer for it to block on the queues."""
    connection = get_rq_connection()

    def idle() -> bool:
        workers = RqWorker.all(connection=connection)
        return bool(workers) and all(w.get_state() == "idle" for w in workers) \
            and all(Queue(name, connection=connection).count == 0 for name in QUEUE_NAMES)
    wait_until(idle, timeout, "the worker to be idle", worker)
    time.sleep(0.3)


def wait_step(render_id: str, name: str, status: str, worker: WorkerHandle | None = None,
              timeout: float = RENDER_TIMEOUT) -> RenderStep:
    return wait_until(lambda: (s := load_steps(render_id)[name]).status == status and s, timeout,
                      f"step {name} to be {status}", worker)  # type: ignore[return-value]


def ledger_rows(render_id: str) -> list[UsageRecord]:
    with Session(get_engine(), expire_on_commit=False) as s:
        return list(s.exec(select(UsageRecord).where(UsageRecord.render_id == render_id)
                           .order_by(UsageRecord.id)).all())


def ledger_by_key(render_id: str) -> dict[str, float]:
    return {row.event_key: row.amount for row in ledger_rows(render_id)}


def ledger_sums(tenant_id: str, period: str) -> dict[str, float]:
    with Session(get_engine()) as s:
        return sum_usage(session=s, tenant_id=tenant_id, period=period)


def step_metrics(render_id: str) -> list[tuple[str, str]]:
    """(step, metric) of every ledger row of a render, parsed from `render:{id}:{step}:{metric}`."""
    pairs = []
    for row in ledger_rows(render_id):
        prefix, rid, step, metric = row.event_key.split(":")
        assert (prefix, rid, metric) == ("render", render_id, row.metric), row.event_key
        pairs.append((step, metric))
    return pairs


def charges(render_id: str) -> dict[tuple[str, str], float]:
    """What a render was charged, by (step, metric)."""
    pairs = zip(step_metrics(render_id), ledger_rows(render_id), strict=True)
    return {(step, metric): row.amount for (step, metric), row in pairs}


def jsonl_lines(tenant_id: str, period: str) -> list[dict]:
    path = usage_log_path(tenant_id, period)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def counters(rc: redis.Redis, tenant_id: str, period: str) -> dict[str, float]:
    """The tenant's Redis counters: the monthly hash plus the gauges (storage)."""
    used = {m: float(v) for m, v in rc.hgetall(f"usage:{tenant_id}:{period}").items()}
    for metric in gauge_names():
        used[metric] = float(rc.hget(f"usage:{tenant_id}:gauge", metric) or 0)
    return used


def assert_counters_match_ledger(rc: redis.Redis, tenant_id: str, period: str) -> None:
    expected = ledger_sums(tenant_id, period)
    actual = counters(rc, tenant_id, period)
    for metric in METRICS.names():
        assert abs(actual.get(metric, 0.0) - expected[metric]) < 1e-6, (metric, actual, expected)


def wait_wound_up(rc: redis.Redis, render_id: str, worker: WorkerHandle | None = None) -> None:
    """Wait until the worker has wound an ended render up.

    The worker commits the terminal status first, then publishes usage, drops the work files
    and, last of all, releases the reservation (a lost release is made up by the next refused
    admission or the maintenance job). A test that saw the status may look a moment too
    early, so anything that checks the wind-up waits for the release first.
    """
    wait_until(lambda: not rc.exists(f"usage:resv:{render_id}"), 10, f"the release of render {render_id}", worker)


def assert_reservation_released(rc: redis.Redis, tenant_id: str, render_id: str) -> None:
    """The render's reservation and slots are given back."""
    wait_wound_up(rc, render_id)
    held = {m: float(v) for m, v in rc.hgetall(f"usage:{tenant_id}:resv").items()}
    assert all(abs(v) < 1e-6 for v in held.values()), held
    assert not rc.exists(f"usage:resv:{render_id}")
    assert rc.smembers(f"usage:{tenant_id}:active") == set()
    assert not rc.sismember("usage:active", render_id)


def render_processes(render_id: str) -> list[psutil.Process]:
    """Live processes whose command line mentions the render (ffmpeg and our wrappers do)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(render_id in arg for arg in proc.info["cmdline"] or ()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def fake_ffmpeg(tmp_path: Path, name: str, *, sleep: float = 0.0, realtime: bool = False,
                forever: bool = False, progress_forever: bool = False) -> Path:
    """An executable to use as FFMPEG_BINARY.

    Args:
        sleep: Seconds to wait silently before running the real ffmpeg.
        realtime: Read every input at its native rate (`-re`), so encoding takes about as long as
            the video and progress lines keep coming.
        forever: Never run ffmpeg: sleep for 10 minutes, printing nothing.
        progress_forever: Never run ffmpeg: report progress (as `-progress pipe:1` does) until killed,
            so only a cancel or a timeout can end it.
    """
    real = imageio_ffmpeg.get_ffmpeg_exe()
    if forever:
        body = "import time\ntime.sleep(600)\n"
    elif progress_forever:
        body = ("import sys, time\nmicros = 0\nwhile True:\n    micros += 100000\n"
                "    print(f'out_time_us={micros}\\nprogress=continue', flush=True)\n    time.sleep(0.1)\n")
    else:
        body = (
            "import os, sys, time\n"
            f"time.sleep({sleep!r})\n"
            "args = sys.argv[1:]\n"
            + ("args = [x for a in args for x in ((['-re'] if a == '-i' else []) + [a])]\n" if realtime else "")
            + f"os.execv({real!r}, [{real!r}, *args])\n"
        )
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


class OwnRedis:
    """A redis-server of this test's own on a fixed port, stopped and started at will."""

    def __init__(self, tmp_path: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.tmp_path, self.generation = tmp_path, 0
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self, keep_data: bool = True) -> None:
        if not keep_data:
            self.generation += 1
        self.proc = processes.start_redis_server(self.port, self.tmp_path / f"redis-{self.generation}")

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop_all([self.proc])
            self.proc = None
