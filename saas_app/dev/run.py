"""`make run`: start Redis (if needed), migrate, the mail catcher, the worker and Reflex.

Ctrl-C or SIGTERM stops every child started here; if one child dies, the rest are stopped
and the exit status is non-zero.
"""

from __future__ import annotations

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
from saas_app.settings import PROJECT_ROOT, VAR_DIR, ConfigError, Settings, get_settings

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
REFLEX_LOG = VAR_DIR / "log" / "reflex.log"
BUILD_TIMEOUT = 300.0
HEALTH_TIMEOUT = 60.0


class Fatal(Exception):
    """A reason to stop everything; the message is shown to the developer."""


class StopRequested(BaseException):
    """SIGINT or SIGTERM arrived."""


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


def _ensure_redis(settings: Settings, children: dict[str, subprocess.Popen]) -> None:
    url = settings.REDIS_URL
    shown = _without_password(url)
    if procs.redis_reachable(url):
        _status(f"Redis: using {shown}")
        return
    parts = urlsplit(url)
    if (parts.hostname or "127.0.0.1") not in LOOPBACK_HOSTS:
        raise Fatal(f"Redis at {shown} is not reachable; start it there or point REDIS_URL elsewhere")
    port = parts.port or 6379
    data_dir = VAR_DIR / "redis"
    try:
        binary = procs.find_redis_binary()
        children["redis-server"] = procs.start_redis_server(port, data_dir, binary, parts.password)
    except (FileNotFoundError, RuntimeError) as exc:
        raise Fatal(f"could not start redis-server: {exc}") from None
    _status(f"Redis: nothing answered at {shown}; started {binary} on 127.0.0.1:{port} "
            f"(data in {_shown(data_dir)})")


def _migrate(settings: Settings, env: dict[str, str]) -> None:
    shown = make_url(settings.DATABASE_URL).render_as_string(hide_password=True)
    if settings.is_sqlite:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
    try:
        procs.migrate(env)
    except FileNotFoundError as exc:
        raise Fatal(f"cannot migrate: {exc}") from None
    except subprocess.CalledProcessError:
        raise Fatal(f"database migration failed for {shown} (Alembic's output is above)") from None
    _status(f"Database: migrated {shown}")


def _start_mail(settings: Settings, children: dict[str, subprocess.Popen]) -> dict[str, str]:
    if settings.SMTP_HOST:
        _status(f"Mail: sending through {settings.SMTP_HOST}:{settings.SMTP_PORT}")
        return {}
    port = settings.SMTP_PORT
    if _port_in_use(port):
        raise Fatal(f"port {port} is taken, so the mail catcher cannot start; stop that program "
                    "or set SMTP_PORT (or SMTP_HOST to use that server)")
    children["mail catcher"] = procs.start_mailcatcher(procs.project_env(), port, settings.MAIL_DIR)
    _status(f"Mail: catching on 127.0.0.1:{port}, saved in {_shown(settings.MAIL_DIR)}")
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _start_reflex(settings: Settings, env: dict[str, str], children: dict[str, subprocess.Popen]) -> None:
    port = settings.PORT
    if _port_in_use(port):
        raise Fatal(f"port {port} is taken; stop that program or set PORT")
    REFLEX_LOG.parent.mkdir(parents=True, exist_ok=True)
    REFLEX_LOG.write_bytes(b"")
    children["reflex"] = procs.start_reflex(env, port, REFLEX_LOG)
    _status(f"Reflex: building and starting on port {port} (log: {_shown(REFLEX_LOG)}; "
            "the first build takes a few minutes)")
    base = f"http://127.0.0.1:{port}"
    procs.wait_http(f"{base}/", BUILD_TIMEOUT, watch=children.values())
    if _http_status(f"{base}/api/health") == 404:
        _status("Reflex: up (no /api/health route yet)")
        return
    procs.wait_http(f"{base}/api/health", HEALTH_TIMEOUT, watch=children.values())
    _status("Reflex: up, /api/health answers 200")


def _start_all(settings: Settings, children: dict[str, subprocess.Popen]) -> None:
    _ensure_redis(settings, children)
    _migrate(settings, procs.project_env())
    env = procs.project_env(_start_mail(settings, children))
    children["worker"] = procs.start_worker(env)
    _status("Worker: started (queues: renders, default)")
    _start_reflex(settings, env, children)


def _watch(children: dict[str, subprocess.Popen]) -> None:
    while True:
        for name, proc in children.items():
            if proc.poll() is not None:
                raise procs.ChildExited(proc)
        time.sleep(0.5)


def _name_of(proc: subprocess.Popen, children: dict[str, subprocess.Popen]) -> str:
    return next((name for name, child in children.items() if child is proc), str(proc.args))


def _shutdown(children: dict[str, subprocess.Popen]) -> None:
    redis_server = children.pop("redis-server", None)
    procs.stop_all(reversed(list(children.values())))
    if redis_server is not None:
        procs.stop_all([redis_server])


def _fail(message: str, children: dict[str, subprocess.Popen], show_log: bool = False) -> int:
    reflex = children.get("reflex")
    if reflex is not None and (show_log or reflex.poll() is not None):
        print(f"--- last lines of {_shown(REFLEX_LOG)} ---\n{_tail(REFLEX_LOG)}\n---", file=sys.stderr)
    suffix = "; stopping everything" if children else ""
    print(f"Error: {message}{suffix}.", file=sys.stderr, flush=True)
    return 1


def main() -> int:
    """Run the whole app for development until Ctrl-C; returns the exit status."""
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    children: dict[str, subprocess.Popen] = {}
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    status = 0
    try:
        _start_all(settings, children)
        print(f"\nNarrated Studio is running at {settings.APP_BASE_URL} — open "
              f"{settings.APP_BASE_URL}/login; sign-in links appear below. Ctrl-C stops it.\n", flush=True)
        _watch(children)
    except StopRequested:
        _status("Stopping…")
    except procs.ChildExited as exc:
        message = f"{_name_of(exc.proc, children)} exited unexpectedly with code {exc.proc.returncode}"
        status = _fail(message, children)
    except (Fatal, TimeoutError) as exc:
        status = _fail(str(exc), children, show_log=isinstance(exc, TimeoutError))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _shutdown(children)
    _status("Stopped.")
    return status


if __name__ == "__main__":
    sys.exit(main())
