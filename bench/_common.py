"""What the benchmarks share: an isolated environment, a migrated temp database, a worker, tables.

`isolate()` must run before anything imports `saas_app` (settings are read once): it points the
app at its own Redis database, a temp SQLite file and temp storage, so a benchmark never
touches development data or a test run (tests use Redis DB 15, browser tests DB 14).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/, not the project, on sys.path
    sys.path.insert(0, str(ROOT))


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def isolate(name: str, redis_db: int) -> Path:
    """Set the environment for a benchmark run and return its temp directory (removed at exit)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    if not _port_open(6379):  # a machine without Redis: run the bundled server for this benchmark
        from saas_app.dev.processes import start_redis_server, stop_all

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        proc = start_redis_server(port, tmp / "redis")
        atexit.register(stop_all, [proc])
        redis_url = f"redis://127.0.0.1:{port}/{redis_db}"
    os.environ.update({
        "APP_ENV": "test",
        "APP_BASE_URL": "http://bench.local",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "REDIS_URL": redis_url,
        "STORAGE_DIR": str(tmp / "storage"),
        "USAGE_LOG_DIR": str(tmp / "usage"),
        "BACKUP_DIR": str(tmp / "backups"),  # the worker's maintenance job backs up at start-up
        "EXPORT_DIR": str(tmp / "exports"),
        "MAIL_DIR": str(tmp / "mail"),
        "SMTP_HOST": "",
        "MIN_FREE_DISK_MB": "0",
        "RENDER_RETRY_DELAYS": "1",
        "FFMPEG_BINARY": "",
    })
    return tmp


def prepare_database() -> None:
    """Migrate the temp database to head and empty the benchmark's Redis database."""
    from alembic import command
    from alembic.config import Config

    from saas_app.services.core.redis_client import get_redis
    from saas_app.settings import PROJECT_ROOT

    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    command.upgrade(config, "head")
    get_redis().flushdb()


def make_principal(plan: str = "enterprise", name: str = "bench"):  # type: ignore[no-untyped-def]
    """A committed tenant and owner, as the Principal a signed-in request would carry."""
    from sqlmodel import Session

    from saas_app.db import get_engine
    from saas_app.models import Membership, Tenant, User, new_id
    from saas_app.services.auth.sessions import Principal

    with Session(get_engine(), expire_on_commit=False) as s:
        tenant = Tenant(name=name, plan=plan)
        s.add(tenant)
        s.flush()
        user = User(email=f"{name}-{new_id()[:8]}@bench.local")
        s.add(user)
        s.flush()
        s.add(Membership(tenant_id=tenant.id, user_id=user.id, role="owner"))
        s.commit()
        return Principal(user_id=user.id, tenant_id=tenant.id, email=user.email, role="owner", plan=plan,
                         session_id="bench")


class Worker:
    """A real `python -m saas_app.jobs.worker` with this process's environment."""

    def __init__(self, log_dir: Path) -> None:
        from saas_app.dev import processes

        self._processes = processes
        self.log_path = log_dir / "worker.log"
        self.proc = processes.start_worker(processes.project_env(), log_path=self.log_path)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once the worker has registered and waits for jobs (so start-up is not measured)."""
        import time

        from rq import Worker as RqWorker

        from saas_app.services.core.queue import get_rq_connection

        deadline = time.monotonic() + timeout
        connection = get_rq_connection()
        while not any(w.get_state() == "idle" for w in RqWorker.all(connection=connection)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; see {self.log_path}")
            time.sleep(0.05)
        time.sleep(0.5)  # its scheduler and registry clean-up run right after start

    def stop(self) -> None:
        self._processes.stop_all([self.proc], timeout=10)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a small aligned table."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        pairs = enumerate(zip(row, widths, strict=False))
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def machine() -> str:
    """Cores and load: timings on a shared machine mean little without them."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load} (1/5/15 min)"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"
