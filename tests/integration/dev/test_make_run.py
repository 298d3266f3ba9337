"""`make run` (python -m saas_app.dev.run) under faults: crashed programs come back, the app keeps
answering, and nothing outlives the stack, even when its parent is SIGKILLed.

Each test runs the real stack in a folder of its own: our own redis-server, the mail catcher,
the RQ worker and Reflex (built in the project root), all under supervisord.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
from factories import link_and_code

from saas_app.dev import processes

STARTUP_TIMEOUT = 300.0
PROGRAMS = {"worker": "saas_app.jobs.worker", "mail": "saas_app.dev.mailcatcher", "redis": "redis-server",
            "web": "reflex"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check, timeout: float, what: str, stack: Stack | None = None, interval: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n"
                                 + (stack.output_tail() if stack else ""))
        time.sleep(interval)


def _stuck_ffmpeg(folder: Path) -> Path:
    """An FFMPEG_BINARY that sleeps for ten minutes (its command line names the render)."""
    path = folder / "stuck-ffmpeg"
    path.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(600)\n")
    path.chmod(0o755)
    return path


def _listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class Stack:
    """A running `python -m saas_app.dev.run` and what it printed."""

    proc: subprocess.Popen
    base_url: str
    mail_dir: Path
    port: int
    smtp_port: int
    lines: list[str] = field(default_factory=list)

    def output_tail(self, count: int = 60) -> str:
        return "--- make run output ---\n" + "\n".join(self.lines[-count:])

    def program(self, name: str) -> psutil.Process | None:
        """The live process supervisord runs as `name` (after the guard exec'd into it)."""
        for supervisor in psutil.Process(self.proc.pid).children():
            for child in supervisor.children():
                try:
                    if _alive(child) and any(PROGRAMS[name] in arg for arg in child.cmdline()):
                        return child
                except psutil.NoSuchProcess:
                    continue
        return None

    def restarted(self, name: str, old: psutil.Process) -> psutil.Process:
        return _wait(lambda: (p := self.program(name)) is not None and p.pid != old.pid and p, 60,
                     f"supervisord to start {name} again", self)

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)


@pytest.fixture
def start_stack(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    stacks: list[Stack] = []
    seen: list[psutil.Process] = []

    def start(**extra: str) -> Stack:
        port, smtp_port, mail_dir = _free_port(), _free_port(), tmp_path / "mail"
        env = processes.project_env({
            "PORT": str(port), "APP_BASE_URL": f"http://127.0.0.1:{port}", "RUN_DIR": str(tmp_path / "var"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}", "REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0",
            "SMTP_HOST": "", "SMTP_PORT": str(smtp_port), "MAIL_DIR": str(mail_dir),
            "STORAGE_DIR": str(tmp_path / "storage"), "USAGE_LOG_DIR": str(tmp_path / "usage"),
            "EXPORT_DIR": str(tmp_path / "exports"), "BACKUP_DIR": str(tmp_path / "backups"),
            "WORKER_SHUTDOWN_GRACE_SECONDS": "3", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), **extra,
        })
        proc = subprocess.Popen([processes.PYTHON, "-m", "saas_app.dev.run"], cwd=processes.PROJECT_ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        stack = Stack(proc, f"http://127.0.0.1:{port}", mail_dir, port, smtp_port)
        stacks.append(stack)
        threading.Thread(target=lambda: stack.lines.extend(line.rstrip() for line in proc.stdout),  # type: ignore[union-attr]
                         daemon=True).start()
        _wait(lambda: any("is running at" in line for line in stack.lines) or proc.poll() is not None,
              STARTUP_TIMEOUT, "make run to come up", stack, interval=0.5)
        assert proc.poll() is None, stack.output_tail()
        seen.extend(stack.descendants())
        return stack

    yield start
    for stack in stacks:
        if stack.proc.poll() is None:
            seen.extend(stack.descendants())
            stack.proc.send_signal(signal.SIGTERM)
            try:
                stack.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                stack.proc.kill()
    for proc in seen:  # whatever a failed test left behind
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


class HealthWatch:
    """GET /api/health every 0.1 s in a thread; remembers every answer (status code or error)."""

    def __init__(self, url: str) -> None:
        self.url, self.answers, self._stop = url, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                try:
                    self.answers.append(client.get(self.url).status_code)
                except httpx.HTTPError as exc:
                    self.answers.append(f"{type(exc).__name__}: {exc}")
                self._stop.wait(0.1)

    def take(self) -> list:
        answers, self.answers = self.answers, []
        return answers

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)


def _parsed(path: Path) -> tuple[str, str, str] | None:
    try:
        return link_and_code(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
    except AssertionError:  # still being written
        return None


def _sign_in(stack: Stack, client: httpx.Client, address: str) -> str:
    before = set(stack.mail_dir.glob("*.eml")) if stack.mail_dir.exists() else set()
    assert client.post("/api/auth/magic-link/request", json={"email": address}).status_code == 202
    [new] = _wait(lambda: list(set(stack.mail_dir.glob("*.eml")) - before), 30, f"the email to {address}", stack)
    _, token, _ = _wait(lambda: _parsed(new), 10, "the email file to be written", stack)
    response = client.post("/api/auth/magic-link/verify", json={"token": token})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _submit(client: httpx.Client, token: str) -> str:
    response = client.post("/api/renders", headers={"Authorization": f"Bearer {token}"},
                           json={"topic": "Supervision", "scenes": [{"text": "A worker comes back."}]})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _status(client: httpx.Client, token: str, render_id: str) -> str:
    return client.get(f"/api/renders/{render_id}", headers={"Authorization": f"Bearer {token}"}).json()["status"]


def test_crashed_programs_are_restarted_while_the_app_keeps_answering(start_stack) -> None:  # type: ignore[no-untyped-def]
    stack = start_stack()
    client = httpx.Client(base_url=stack.base_url, timeout=30)
    token = _sign_in(stack, client, "maker@example.com")
    health = HealthWatch(f"{stack.base_url}/api/health")
    try:
        worker = stack.program("worker")
        assert worker is not None, stack.output_tail()
        worker.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        render_id = _submit(client, token)
        _wait(lambda: _status(client, token, render_id) != "queued", 60, "a new worker to take the render", stack)
        print(f"a new worker took the render {time.monotonic() - killed_at:.1f} s after the kill (promise: 10 s)")
        assert stack.restarted("worker", worker)
        _wait(lambda: _status(client, token, render_id) == "succeeded", 120, "the render to finish", stack)
        assert set(health.take()) == {200}, "the app stopped answering while the worker was down"

        mail = stack.program("mail")
        mail.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        stack.restarted("mail", mail)  # type: ignore[arg-type]
        _wait(lambda: _listens(stack.smtp_port), 30, "the new mail catcher to listen", stack)
        assert _sign_in(stack, client, "second@example.com")

        redis_server = stack.program("redis")
        redis_server.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        stack.restarted("redis", redis_server)  # type: ignore[arg-type]
        _wait(lambda: client.get("/api/health").status_code == 200, 60, "health after Redis came back", stack)
        answers = health.take()
        assert all(isinstance(a, int) for a in answers), [a for a in answers if not isinstance(a, int)][:3]
    finally:
        health.stop()
        client.close()
    output = "\n".join(stack.lines)
    for name in ("worker", "mail", "redis"):
        assert f"exited: {name} (terminated by SIGKILL; not expected)" in output, stack.output_tail()
    processes_before = stack.descendants()

    stack.proc.send_signal(signal.SIGTERM)  # what Ctrl-C does

    assert stack.proc.wait(timeout=90) == 0, stack.output_tail()
    _wait(lambda: not any(_alive(p) for p in processes_before), 30, "every program to stop", stack)


def test_no_process_outlives_make_run_when_it_is_sigkilled(start_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stack = start_stack(FFMPEG_BINARY=str(_stuck_ffmpeg(tmp_path)))
    client = httpx.Client(base_url=stack.base_url, timeout=30)
    token = _sign_in(stack, client, "orphan@example.com")
    render_id = _submit(client, token)
    _wait(lambda: any(render_id in " ".join(p.cmdline()) for p in stack.descendants() if _alive(p)), 60,
          "the render's encoder (a work-horse's child) to run", stack)
    client.close()
    everything = stack.descendants()
    assert len(everything) >= 6, [p.name() for p in everything]

    stack.proc.send_signal(signal.SIGKILL)

    survivors = lambda: [p for p in everything if _alive(p)]  # noqa: E731
    _wait(lambda: not survivors(), 90, "every process make run started to stop", stack, interval=0.5)
    assert not _listens(stack.port)
