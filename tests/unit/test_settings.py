"""Settings: defaults, and production refusing weak JWT secrets with a one-line reason."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from saas_app.services.usage.plans import PLANS
from saas_app.settings import PROJECT_ROOT, AppEnv, ConfigError, Settings, get_settings

GOOD_SECRET = "k3Jq9vX2mP8wR5tY7uZ1aB4cD6eF0gH2iJ4kL6mN8oP0"


@pytest.fixture
def fresh_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No app variables in the environment; settings rebuilt, and restored afterwards."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def test_defaults(fresh_env: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.APP_ENV is AppEnv.development
    assert settings.PORT == 3000
    assert settings.JWT_EXPIRE_HOURS == 24
    assert settings.REFRESH_EXPIRE_DAYS == 30
    assert settings.MAGIC_LINK_TTL_MINUTES == 15
    assert settings.DATABASE_URL.startswith("sqlite:///")
    assert Path(settings.DATABASE_URL.removeprefix("sqlite:///")).parent == PROJECT_ROOT / "var"
    assert settings.is_sqlite
    assert settings.STORAGE_DIR == PROJECT_ROOT / "var" / "storage"


def test_tests_run_on_their_own_settings() -> None:
    settings = get_settings()
    assert settings.APP_ENV is AppEnv.test
    assert settings.REDIS_URL.endswith(f"/{os.environ.get('TEST_REDIS_DB', '15')}")
    assert settings.APP_BASE_URL == "http://testserver"


def test_base_url_loses_its_trailing_slash(fresh_env: pytest.MonkeyPatch) -> None:
    fresh_env.setenv("APP_BASE_URL", "https://studio.example.com/")
    assert Settings(_env_file=None).APP_BASE_URL == "https://studio.example.com"  # type: ignore[call-arg]


@pytest.mark.parametrize("secret", [
    None, "", "   ", "changeme", "CHANGEME", "your-32-byte-random-string",
    "dev-insecure-secret-change-me-in-production-0000", "short-but-random-9f8e7d",
    "x" * 31, "é" * 15,
])
def test_production_refuses_a_weak_jwt_secret(fresh_env: pytest.MonkeyPatch, secret: str | None) -> None:
    fresh_env.setenv("APP_ENV", "production")
    if secret is not None:
        fresh_env.setenv("JWT_SECRET", secret)
    with pytest.raises(ConfigError) as caught:
        get_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("Invalid configuration")
    assert "JWT_SECRET" in message


@pytest.mark.parametrize("secret", [GOOD_SECRET, "x" * 32, "é" * 16])
def test_production_accepts_a_strong_jwt_secret(fresh_env: pytest.MonkeyPatch, secret: str) -> None:
    fresh_env.setenv("APP_ENV", "production")
    fresh_env.setenv("JWT_SECRET", secret)
    settings = get_settings()
    assert settings.APP_ENV is AppEnv.production
    assert secret == settings.JWT_SECRET


def test_development_keeps_working_with_the_placeholder(fresh_env: pytest.MonkeyPatch) -> None:
    fresh_env.setenv("APP_ENV", "development")
    assert get_settings().JWT_SECRET.startswith("dev-insecure")


def test_bad_values_give_one_line_reasons(fresh_env: pytest.MonkeyPatch) -> None:
    fresh_env.setenv("PORT", "70000")
    with pytest.raises(ConfigError, match=r"^Invalid configuration \(PORT\): [^\n]+$"):
        get_settings()


def test_new_workspaces_start_on_free_unless_told_otherwise(fresh_env: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).TENANT_DEFAULT_PLAN == "free"  # type: ignore[call-arg]
    fresh_env.setenv("TENANT_DEFAULT_PLAN", "pro")
    assert get_settings().TENANT_DEFAULT_PLAN == "pro"


def test_an_unknown_default_plan_refuses_to_start(fresh_env: pytest.MonkeyPatch) -> None:
    fresh_env.setenv("TENANT_DEFAULT_PLAN", "gold")
    with pytest.raises(ConfigError, match=r"^Invalid configuration \(TENANT_DEFAULT_PLAN\): [^\n]+$") as caught:
        get_settings()
    assert "'gold' is not a plan" in str(caught.value) and ", ".join(PLANS.names()) in str(caught.value)


def test_files_stay_local_and_tab_states_on_disk_unless_told_otherwise(fresh_env: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.STORAGE_BACKEND == "local" and settings.REFLEX_REDIS_URL == ""
    fresh_env.setenv("STORAGE_BACKEND", "s3")
    with pytest.raises(ConfigError, match=r"^Invalid configuration \(settings\): STORAGE_BACKEND=s3 needs S3_BUCKET$"):
        get_settings()
    fresh_env.setenv("S3_BUCKET", "media")
    get_settings.cache_clear()
    assert get_settings().S3_BUCKET == "media"
    fresh_env.setenv("STORAGE_BACKEND", "ftp")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match=r"^Invalid configuration \(STORAGE_BACKEND\): "):
        get_settings()


def test_the_example_env_file_loads_as_the_defaults(fresh_env: pytest.MonkeyPatch) -> None:
    example = Settings(_env_file=PROJECT_ROOT / ".env.example")  # type: ignore[call-arg]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    for name in ("STORAGE_BACKEND", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_REGION", "S3_ADDRESSING_STYLE",
                 "S3_PRESIGN_TTL_SECONDS", "REFLEX_REDIS_URL", "PORT", "REDIS_URL"):
        assert getattr(example, name) == getattr(defaults, name), name


def test_one_app_process_unless_tab_states_are_shared_in_redis() -> None:
    assert Settings(WEB_WORKERS=0, REFLEX_REDIS_URL="").web_workers == 1
    shared = Settings(WEB_WORKERS=0, REFLEX_REDIS_URL="redis://127.0.0.1:6379/3")
    assert shared.web_workers == max(1, os.cpu_count() or 1)
    assert Settings(WEB_WORKERS=3, REFLEX_REDIS_URL="").web_workers == 3
