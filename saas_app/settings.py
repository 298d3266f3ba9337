"""The one place that reads the environment.

Every module gets configuration from `get_settings()`. Values come from the process
environment, then `.env` in the project root, then the defaults below.
"""

from __future__ import annotations

import functools
import os
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"

# Values that look like secrets but are the well-known placeholders from docs/examples.
_PLACEHOLDER_SECRETS = {
    "",
    "changeme",
    "change-me",
    "secret",
    "your-32-byte-random-string",
    "dev-insecure-secret-change-me-in-production-0000",
    "replace-me-with-a-long-random-string",
}


class AppEnv(StrEnum):
    """Where the app runs; production enables strict checks."""

    development = "development"
    test = "test"
    production = "production"


class ConfigError(RuntimeError):
    """The configuration cannot run; the message is one line for operators."""


class Settings(BaseSettings):
    """Validated application settings (see `.env.example` for documentation)."""

    model_config = SettingsConfigDict(
        env_file=str(PROJECT_ROOT / ".env"), extra="ignore", case_sensitive=True
    )

    APP_ENV: AppEnv = AppEnv.development
    APP_BASE_URL: str = "http://localhost:3000"
    PORT: int = Field(default=3000, ge=1, le=65535)
    DATABASE_URL: str = f"sqlite:///{VAR_DIR / 'app.db'}"
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    # Reflex keeps each browser tab's state here when set (needed when more than one app process
    # serves the same users: any process then serves any tab); empty = on this process's disk.
    REFLEX_REDIS_URL: str = ""

    # Capacity of one app process (see saas_app/api/capacity.py). WEB_THREADS threads run API work
    # (as many run Reflex's event handlers) and the database pool keeps a connection for each.
    WEB_THREADS: int = Field(default=8, ge=1, le=128)
    # API requests one app process holds at once (running or waiting for a thread); the next answers
    # 503 with Retry-After at once.
    API_MAX_INFLIGHT: int = Field(default=64, ge=1, le=10000)
    # App server processes (granian workers); 0 = one per CPU core when REFLEX_REDIS_URL is set (any
    # process can then serve any tab), else 1.
    WEB_WORKERS: int = Field(default=0, ge=0, le=64)
    # How long a verified principal (user, session, tenant, plan) stays cached at most; revocations,
    # sign-outs, plan changes and deletions drop it at once.
    AUTH_CACHE_TTL_SECONDS: int = Field(default=60, ge=1, le=3600)

    JWT_SECRET: str = "dev-insecure-secret-change-me-in-production-0000"
    JWT_EXPIRE_HOURS: int = Field(default=24, ge=1)
    REFRESH_EXPIRE_DAYS: int = Field(default=30, ge=1)
    # A rotated refresh token presented again within this many seconds (two tabs refreshing at once)
    # counts as the same rotation and gets working tokens; later reuse revokes the whole family.
    REFRESH_REUSE_GRACE_SECONDS: int = Field(default=5, ge=0, le=60)
    JWT_ISSUER: str = "saas-app"
    JWT_AUDIENCE: str = "saas-app-api"

    MAGIC_LINK_TTL_MINUTES: int = Field(default=15, ge=1, le=1440)
    MAGIC_LINK_FROM: str = "Narrated Studio <no-reply@localhost>"
    SMTP_HOST: str = ""
    SMTP_PORT: int = 1025
    SMTP_USER: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_STARTTLS: bool = False
    SECURE_COOKIES: bool = False
    # Reverse proxies in front of the app whose X-Forwarded-For entries are trusted (0 = none).
    TRUSTED_PROXY_HOPS: int = Field(default=0, ge=0, le=5)
    SESSION_COOKIE_NAME: str = "sa_session"

    STORAGE_DIR: Path = VAR_DIR / "storage"
    # Where kept files (render outputs, exports) live: "local" (STORAGE_DIR and EXPORT_DIR) or "s3"
    # (S3_BUCKET through the S3 API; STORAGE_DIR then only holds a worker's renders in progress).
    STORAGE_BACKEND: Literal["local", "s3"] = "local"
    S3_BUCKET: str = ""
    S3_ENDPOINT_URL: str = ""  # empty = AWS S3; e.g. http://minio:9000
    S3_PUBLIC_ENDPOINT_URL: str = ""  # the endpoint browsers download from (presigned URLs); empty = S3_ENDPOINT_URL
    S3_REGION: str = "us-east-1"
    S3_ACCESS_KEY_ID: str = ""  # empty (with the secret) = boto3's own chain: AWS_* variables, instance roles
    S3_SECRET_ACCESS_KEY: str = ""
    S3_ADDRESSING_STYLE: Literal["auto", "path", "virtual"] = "auto"
    S3_PRESIGN_TTL_SECONDS: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # Where `make run` keeps its logs, supervisord's pid file and socket, and its own Redis's data.
    RUN_DIR: Path = VAR_DIR
    MAIL_DIR: Path = VAR_DIR / "mail"

    # Monthly base quotas, one per metric (services/usage/metrics.py); plans multiply them
    # (Free 1x, Pro 5x, Enterprise unlimited; services/usage/plans.py).
    QUOTA_IMAGES_COUNT: int = Field(default=500, ge=0)
    QUOTA_TTS_SECONDS: int = Field(default=60000, ge=0)
    QUOTA_RENDER_MINUTES: int = Field(default=500, ge=0)
    QUOTA_STORAGE_MB: int = Field(default=100000, ge=0)
    USAGE_LOG_DIR: Path = VAR_DIR / "usage"

    # Render pipeline limits.
    MAX_QUEUE_DEPTH: int = Field(default=200, ge=1)
    MIN_FREE_DISK_MB: int = Field(default=500, ge=0)
    RENDER_STEP_TIMEOUT_SECONDS: int = Field(default=300, ge=1)
    RENDER_JOB_TIMEOUT_SECONDS: int = Field(default=1800, ge=10)
    RENDER_MAX_RETRIES: int = Field(default=2, ge=0, le=10)
    RENDER_RETRY_DELAYS: str = "2,10"
    # On SIGTERM a worker finishes its current render within this time or hands it back to the queue.
    WORKER_SHUTDOWN_GRACE_SECONDS: int = Field(default=25, ge=1, le=3600)
    # ffmpeg to use; empty = the binary shipped in the imageio-ffmpeg wheel.
    FFMPEG_BINARY: str = ""

    # The plan a new workspace starts on (an id from services/usage/plans.py).
    TENANT_DEFAULT_PLAN: str = "free"

    # Stripe billing (optional: without STRIPE_API_KEY everyone is on Free). Each plan sold names
    # its price setting in services/usage/plans.py.
    STRIPE_API_KEY: str = ""
    STRIPE_WEBHOOK_SECRET: str = ""
    STRIPE_PRICE_PRO: str = ""
    STRIPE_PRICE_ENTERPRISE: str = ""
    STRIPE_API_BASE: str = ""  # e.g. a local Stripe-compatible server for tests
    BILLING_GRACE_DAYS: int = Field(default=7, ge=0)

    # Account and data protection.
    DELETION_GRACE_HOURS: int = Field(default=24, ge=0)
    EXPORT_DIR: Path = VAR_DIR / "exports"
    EXPORT_TTL_HOURS: int = Field(default=24, ge=1)
    BACKUP_DIR: Path = VAR_DIR / "backups"
    BACKUPS_CRON: str = "0 3 * * *"  # daily at 03:00 UTC
    BACKUPS_RETENTION_DAYS: int = Field(default=14, ge=1)

    # Observability (docs/operations.md#metrics). /metrics answers only `Authorization: Bearer
    # <METRICS_TOKEN>` (empty = /metrics is off, 404). App processes and workers write their
    # series to PROMETHEUS_MULTIPROC_DIR (one shared folder per host, emptied at start-up), so one
    # scrape sees them all; empty = each process reports only its own.
    METRICS_TOKEN: str = ""
    PROMETHEUS_MULTIPROC_DIR: str = str(VAR_DIR / "metrics")
    SENTRY_DSN: str = ""  # empty = errors are only logged
    SENTRY_ENVIRONMENT: str = ""  # empty = APP_ENV
    SENTRY_RELEASE: str = ""  # e.g. the git commit deployed; empty = the app's version
    LOG_FORMAT: Literal["text", "json"] = "text"

    # Rate limits for sign-in email. Per address they stay strict (they protect each inbox); per
    # client IP the default leaves room for everyone behind one shared address (an office, a school).
    RATE_EMAIL_PER_MINUTE: int = Field(default=1, ge=1)
    RATE_EMAIL_PER_HOUR: int = Field(default=5, ge=1)
    RATE_IP_PER_HOUR: int = Field(default=300, ge=1)

    # Team invitations: how long a link works, and how many emails a workspace or one inviter may send.
    INVITATION_TTL_DAYS: int = Field(default=7, ge=1, le=90)
    INVITES_PER_WORKSPACE_PER_HOUR: int = Field(default=20, ge=1)
    INVITES_PER_INVITER_PER_HOUR: int = Field(default=10, ge=1)
    INVITES_PER_ADDRESS_PER_HOUR: int = Field(default=3, ge=1)

    @field_validator("APP_BASE_URL")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("APP_BASE_URL must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("BACKUPS_CRON")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError("BACKUPS_CRON is not a valid cron expression (e.g. '0 3 * * *')")
        return value

    @field_validator("TENANT_DEFAULT_PLAN")
    @classmethod
    def _known_plan(cls, value: str) -> str:
        from saas_app.services.usage.plans import check_plan_id  # the catalogue reads settings too

        check_plan_id(value)
        return value

    @model_validator(mode="after")
    def _plan_prices_are_settings(self) -> Settings:
        from saas_app.services.usage.plans import check_price_settings

        check_price_settings(type(self))
        return self

    @model_validator(mode="after")
    def _storage_complete(self) -> Settings:
        if self.STORAGE_BACKEND == "s3" and not self.S3_BUCKET:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _production_checks(self) -> Settings:
        if self.APP_ENV is AppEnv.production:
            secret = self.JWT_SECRET.strip()
            if secret.lower() in _PLACEHOLDER_SECRETS:
                raise ValueError("JWT_SECRET is missing or a placeholder; set a random 32+ byte secret")
            if len(secret.encode()) < 32:
                raise ValueError("JWT_SECRET is shorter than 32 bytes")
        return self

    @property
    def allowed_origins(self) -> list[str]:
        """Browser origins allowed to call the backend (CORS and the websocket handshake)."""
        scheme, _, rest = self.APP_BASE_URL.partition("://")
        host, _, port = rest.partition(":")
        origins = [self.APP_BASE_URL]
        if host in ("localhost", "127.0.0.1"):  # the same machine under either name
            other = "127.0.0.1" if host == "localhost" else "localhost"
            origins.append(f"{scheme}://{other}" + (f":{port}" if port else ""))
        return origins

    @property
    def web_workers(self) -> int:
        """App server processes to run: `WEB_WORKERS`, or one per core when tab states are in Redis."""
        if self.WEB_WORKERS:
            return self.WEB_WORKERS
        return max(1, os.cpu_count() or 1) if self.REFLEX_REDIS_URL else 1

    @property
    def metrics_dir(self) -> Path | None:
        """PROMETHEUS_MULTIPROC_DIR as a path (a relative one is under the project root); None when empty."""
        if not self.PROMETHEUS_MULTIPROC_DIR:
            return None
        path = Path(self.PROMETHEUS_MULTIPROC_DIR)
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def is_sqlite(self) -> bool:
        """True when the database is a SQLite file."""
        return self.DATABASE_URL.startswith("sqlite")


def granian_workers(settings: Settings) -> str:
    """How many app processes granian runs: `GRANIAN_WORKERS` when set (granian's own variable
    wins), else `settings.web_workers`."""
    return os.environ.get("GRANIAN_WORKERS") or str(settings.web_workers)


def export_web_workers(settings: Settings) -> None:
    """Tell granian (which Reflex starts, and which reads `GRANIAN_WORKERS` itself) how many
    processes to run."""
    os.environ["GRANIAN_WORKERS"] = granian_workers(settings)


def child_process_env(**extra: str) -> dict[str, str]:
    """The environment for a child process (e.g. pg_dump), plus `extra` variables."""
    return {**os.environ, **extra}


def set_library_env(name: str, value: str) -> None:
    """Set a variable that a library reads from the environment by itself (and this process's children)."""
    os.environ[name] = value


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, raising `ConfigError` with a one-line reason."""
    try:
        return Settings()
    except Exception as exc:  # pydantic ValidationError: keep the first reason only
        errors = getattr(exc, "errors", None)
        if callable(errors):
            first = errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "settings"
            reason = str(first.get("msg", exc)).removeprefix("Value error, ")
            raise ConfigError(f"Invalid configuration ({field}): {reason}") from None
        raise ConfigError(f"Invalid configuration: {exc}") from None
