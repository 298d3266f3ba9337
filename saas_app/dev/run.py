"""`make run`: check ports, migrate, then run every process under supervisord until Ctrl-C.

The processes are listed in `saas_app/dev/supervisord.conf`: our own Redis (when
REDIS_URL does not answer), the mail catcher (when SMTP_HOST is empty), the RQ worker and
Reflex. supervisord restarts whichever exits, with backoff, and logs it; the app keeps
serving. Ctrl-C, SIGTERM or SIGHUP here stops everything. supervisord gets SIGTERM from
the kernel when this process dies in any way (even SIGKILL), and so do its programs when
supervisord dies, so nothing outlives `make run`.
"""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from saas_app.dev import processes as procs
from saas_app.dev.guard import die_with_parent
from saas_app.settings import PROJECT_ROOT, ConfigError, Settings, get_settings, granian_workers

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
CONFIG = Path(__file__).with_name("supervisord.conf")
BUILD_TIMEOUT = 300.0
STOP_TIMEOUT = 120.0


class Fatal(Exception):
    """A reason to stop everything; the message is shown to the developer."""


class StopRequested(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise StopRequested


def _status(message: str) -> None:
    print(f"==> {message}", flush=True)


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def _port_in_use(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _redis_program(settings: Settings) -> dict[str, str]:
    """The NS_* variables of the `redis` program: started only when REDIS_URL does not answer."""
    url = settings.REDIS_URL
    shown = _without_password(url)
    if procs.redis_reachable(url):
        _status(f"Redis: using {shown}")
        return {"NS_START_REDIS": "false", "NS_REDIS_SERVER": "redis-server", "NS_REDIS_ARGS": ""}
    parts = urlsplit(url)
    if (parts.hostname or "127.0.0.1") not in LOOPBACK_HOSTS:
        raise Fatal(f"Redis at {shown} is not reachable; start it there or point REDIS_URL elsewhere")
    data_dir = Path(settings.RUN_DIR) / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        binary = procs.find_redis_binary()
    except FileNotFoundError as exc:
        raise Fatal(f"could not start redis-server: {exc}") from None
    args = procs.redis_server_args(parts.port or 6379, data_dir, parts.password)
    _status(f"Redis: nothing answered at {shown}; starting {binary} on 127.0.0.1:{parts.port or 6379} "
            f"(data in {_shown(data_dir)})")
    return {"NS_START_REDIS": "true", "NS_REDIS_SERVER": binary, "NS_REDIS_ARGS": shlex.join(args)}


def _migrate(settings: Settings) -> None:
    shown = make_url(settings.DATABASE_URL).render_as_string(hide_password=True)
    if settings.is_sqlite:
        Path(settings.RUN_DIR).mkdir(parents=True, exist_ok=True)
    try:
        procs.migrate(procs.project_env())
    except FileNotFoundError as exc:
        raise Fatal(f"cannot migrate: {exc}") from None
    except subprocess.CalledProcessError:
        raise Fatal(f"database migration failed for {shown} (Alembic's output is above)") from None
    _status(f"Database: migrated {shown}")


def _mail_program(settings: Settings) -> dict[str, str]:
    port = settings.SMTP_PORT
    program = {"NS_START_MAIL": "false", "NS_SMTP_PORT": str(port), "NS_MAIL_DIR": str(settings.MAIL_DIR)}
    if settings.SMTP_HOST:
        _status(f"Mail: sending through {settings.SMTP_HOST}:{port}")
        return program
    if _port_in_use(port):
        raise Fatal(f"port {port} is taken, so the mail catcher cannot start; stop that program "
                    "or set SMTP_PORT (or SMTP_HOST to use that server)")
    _status(f"Mail: catching on 127.0.0.1:{port}, saved in {_shown(settings.MAIL_DIR)}")
    return {**program, "NS_START_MAIL": "true", "SMTP_HOST": "127.0.0.1"}


def supervisor_env(settings: Settings) -> dict[str, str]:
    """Check what `make run` needs and return supervisord's environment (NS_* for the config).

    Raises:
        Fatal: A port is taken, Redis is unreachable and not local, or a migration failed.
    """
    if _port_in_use(settings.PORT):
        raise Fatal(f"port {settings.PORT} is taken; stop that program or set PORT")
    redis_program = _redis_program(settings)
    _migrate(settings)
    run_dir = Path(settings.RUN_DIR).resolve()
    (run_dir / "log").mkdir(parents=True, exist_ok=True)
    return procs.project_env({
        **redis_program, **_mail_program(settings),
        "NS_RUN_DIR": str(run_dir), "NS_PROJECT_ROOT": str(PROJECT_ROOT), "NS_PORT": str(settings.PORT),
        "NS_PYTHON": procs.PYTHON, "NS_REFLEX": str(procs.BIN_DIR / "reflex"),
        "NS_GUARD": f"{procs.PYTHON} -m saas_app.dev.guard",
        "NS_WORKER_STOPWAIT": str(settings.WORKER_SHUTDOWN_GRACE_SECONDS + 15),
        "GRANIAN_WORKERS": granian_workers(settings),  # app processes (Reflex's granian reads it)
    })


def start_supervisor(env: dict[str, str]) -> subprocess.Popen:
    """Run supervisord on `CONFIG` in its own session; it gets SIGTERM when we die."""
    return subprocess.Popen([str(procs.BIN_DIR / "supervisord"), "-c", str(CONFIG)], cwd=PROJECT_ROOT,
                            env=env, stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=die_with_parent)


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _wait_up(settings: Settings, supervisor: subprocess.Popen) -> None:
    base = f"http://127.0.0.1:{settings.PORT}"
    _status(f"Reflex: building and starting on port {settings.PORT} (log: "
            f"{_shown(Path(settings.RUN_DIR) / 'log' / 'reflex.log')}; the first build takes a few minutes)")
    procs.wait_http(f"{base}/", BUILD_TIMEOUT, watch=[supervisor])
    if _http_status(f"{base}/api/health") == 404:
        _status("Reflex: up (no /api/health route yet)")
        return
    procs.wait_http(f"{base}/api/health", BUILD_TIMEOUT, watch=[supervisor])
    _status("Reflex: up, /api/health answers 200")


def stop_supervisor(supervisor: subprocess.Popen) -> None:
    """SIGTERM supervisord (it stops every program in reverse order) and wait; SIGKILL the group last."""
    if supervisor.poll() is None:
        supervisor.send_signal(signal.SIGTERM)
    try:
        supervisor.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        procs.stop_all([supervisor], timeout=1)


def main() -> int:
    """Run the whole app for development until Ctrl-C; returns the exit status."""
    die_with_parent(signal.SIGTERM)  # `make` killed: stop as if Ctrl-C was pressed
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    supervisor: subprocess.Popen | None = None
    status = 0
    try:
        supervisor = start_supervisor(supervisor_env(settings))
        _wait_up(settings, supervisor)
        print(f"\nNarrated Studio is running at {settings.APP_BASE_URL} — open "
              f"{settings.APP_BASE_URL}/login; sign-in links appear below. Ctrl-C stops it.\n", flush=True)
        while supervisor.poll() is None:
            time.sleep(0.5)
        status = _fail(f"supervisord exited with code {supervisor.returncode}", settings)
    except StopRequested:
        _status("Stopping…")
    except procs.ChildExited as exc:
        status = _fail(f"supervisord exited with code {exc.proc.returncode}", settings)
    except (Fatal, TimeoutError) as exc:
        status = _fail(str(exc), settings, show_log=isinstance(exc, TimeoutError))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if supervisor is not None:
            stop_supervisor(supervisor)
    _status("Stopped.")
    return status


def _fail(message: str, settings: Settings, show_log: bool = False) -> int:
    log = Path(settings.RUN_DIR) / "log" / "reflex.log"
    if show_log:
        print(f"--- last lines of {_shown(log)} ---\n{_tail(log)}\n---", file=sys.stderr)
    print(f"Error: {message}; stopping everything.", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
