"""The scale-out set-up: two app processes and two workers, each in a working directory of its own
(no local disk shared for data), on a fresh PostgreSQL database, one Redis (a private redis-server:
Reflex's state manager configures keyspace notifications on it) and moto's S3 server, behind a
TCP balancer without sticky sessions.

The frontend is built once (``reflex export --frontend-only``, as the Docker image does) and each
app process serves its own copy of the build (``python -m saas_app.web``, the image's web command):
code and build are what an image gives every container; everything a process writes (render work
files, exports, usage logs, backups, tab states) stays in its own directory or goes to the shared
services.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa
from e2e_helpers import MAIL_TIMEOUT, code_of
from s3_server import Bucket
from tcp_proxy import TcpProxy

from saas_app.dev import processes
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.settings import PROJECT_ROOT
from saas_app.web import copy_build

STARTUP_TIMEOUT = 120
PG_TEST_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log at {path}: {exc})"


@dataclass
class Proc:
    """A process of the cluster, its working directory and its log."""

    name: str
    proc: subprocess.Popen
    workdir: Path
    port: int = 0

    @property
    def log(self) -> Path:
        return self.workdir / "process.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    """Everything the scale-out tests talk to."""

    tmp: Path
    env: dict[str, str]
    proxy: TcpProxy
    mail: MailCatcher
    bucket: Bucket
    redis: redis.Redis
    build: Path
    apps: dict[str, Proc] = field(default_factory=dict)
    workers: dict[str, Proc] = field(default_factory=dict)
    _engine: sa.Engine | None = None

    @property
    def base_url(self) -> str:
        return self.proxy.url

    def query(self, sql: str, **params: object) -> list[sa.Row]:
        """Rows from the cluster's database (read only)."""
        if self._engine is None:
            self._engine = sa.create_engine(self.env["DATABASE_URL"], pool_size=1)
        with self._engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def process_env(self, workdir: Path, **extra: str) -> dict[str, str]:
        """The shared settings plus every local directory inside `workdir`."""
        dirs = {"STORAGE_DIR": "storage", "EXPORT_DIR": "exports", "USAGE_LOG_DIR": "usage", "BACKUP_DIR": "backups",
                "MAIL_DIR": "mail", "RUN_DIR": "run", "TMPDIR": "tmp", "REFLEX_WEB_WORKDIR": ".web",
                "REFLEX_STATES_WORKDIR": ".states"}
        (workdir / "tmp").mkdir(parents=True, exist_ok=True)
        return {**self.env, **{name: str(workdir / sub) for name, sub in dirs.items()}, **extra}

    def start_app(self, name: str) -> Proc:
        """An app process serving a copy of the build from its own directory, on a port of its own."""
        workdir, port = self.tmp / f"app-{name}", free_port()
        workdir.mkdir()
        (workdir / "rxconfig.py").symlink_to(PROJECT_ROOT / "rxconfig.py")  # the code, as in the image
        copy_build(self.build, workdir / ".web")
        app = Proc(name, _spawn([processes.PYTHON, "-m", "saas_app.web"], workdir,
                                self.process_env(workdir, PORT=str(port))), workdir, port)
        self.apps[name] = app
        try:
            processes.wait_http(f"{app.url}/api/health", timeout=STARTUP_TIMEOUT, watch=[app.proc])
        except BaseException as exc:
            raise RuntimeError(f"app {name} did not start: {exc}\n{tail(app.log)}") from exc
        self.proxy.add(name, port)
        return app

    def start_worker(self, name: str) -> Proc:
        """A worker in its own directory (the one it had, when it is started again)."""
        workdir = self.tmp / f"worker-{name}"
        workdir.mkdir(exist_ok=True)
        worker = Proc(name, _spawn([processes.PYTHON, "-m", "saas_app.jobs.worker"], workdir,
                                   self.process_env(workdir)), workdir)
        self.workers[name] = worker
        return worker

    def kill(self, proc: Proc) -> None:
        """SIGKILL a process and everything it started (a lost container or node)."""
        os.killpg(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait(timeout=10)

    def sign_in_api(self, app: Proc, email: str) -> dict[str, str]:
        """Sign in over the API of one app process; the Authorization header."""
        before = sum(1 for m in self.mail.messages() if email in str(m.get("To", "")))
        asked = httpx.post(f"{app.url}/api/auth/magic-link/request", json={"email": email}, timeout=30)
        assert asked.status_code == 202, asked.text
        code = code_of(self.mail.wait_for(email, timeout=MAIL_TIMEOUT, count=before + 1))
        tokens = httpx.post(f"{app.url}/api/auth/magic-link/verify", json={"email": email, "code": code}, timeout=30)
        assert tokens.status_code == 200, tokens.text
        return {"Authorization": f"Bearer {tokens.json()['access_token']}"}

    def stop(self) -> None:
        processes.stop_all([p.proc for p in [*self.apps.values(), *self.workers.values()]], timeout=30)
        self.proxy.stop()
        self.mail.stop()
        if self._engine is not None:
            self._engine.dispose()


def _spawn(args: list[str], workdir: Path, env: dict[str, str]) -> subprocess.Popen:
    with (workdir / "process.log").open("ab") as log:
        return subprocess.Popen(args, cwd=workdir, env=processes.project_env({**env, "PYTHONPATH": str(PROJECT_ROOT)}),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def shared_env(*, base_url: str, database_url: str, redis_port: int, mail_port: int,
               s3_env: dict[str, str]) -> dict[str, str]:
    """The settings every process of the cluster shares."""
    return {
        "APP_ENV": "test", "APP_BASE_URL": base_url, "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "REFLEX_REDIS_URL": f"redis://127.0.0.1:{redis_port}/1",
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mail_port), "JWT_SECRET": secrets.token_hex(24),
        "TENANT_DEFAULT_PLAN": "enterprise",  # ten renders at a time per workspace
        "RATE_IP_PER_HOUR": "10000", "RENDER_RETRY_DELAYS": "1,1", "GRANIAN_WORKERS": "1",
        "STRIPE_API_KEY": "", **s3_env,
    }


def build_frontend(env: dict[str, str], web_dir: Path) -> None:
    """The production frontend for APP_BASE_URL, built once into `web_dir` (what the image's build does)."""
    log = web_dir.parent / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        done = subprocess.run([str(processes.BIN_DIR / "reflex"), "export", "--frontend-only", "--no-zip"],
                              cwd=PROJECT_ROOT, env=processes.project_env({**env, "REFLEX_WEB_WORKDIR": str(web_dir)}),
                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=600)
    assert done.returncode == 0, f"the frontend build failed:\n{tail(log)}"
