"""Readiness and the API description."""

from __future__ import annotations

import pytest
from factories import dead_redis
from fastapi.testclient import TestClient

from saas_app.services.core import health

pytestmark = pytest.mark.db


def test_health_is_ok_when_database_and_redis_answer(api: TestClient) -> None:
    response = api.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "db": "ok", "redis": "ok"}


def test_health_is_503_naming_redis_when_it_is_down(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "get_redis", dead_redis)
    response = api.get("/api/health")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "db": "ok", "redis": "down"}


def test_openapi_docs_list_the_auth_api(api: TestClient) -> None:
    docs = api.get("/api/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = api.get("/api/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/api/auth/magic-link/request", "/api/auth/magic-link/verify", "/api/auth/refresh",
                 "/api/auth/me", "/api/auth/logout", "/api/auth/logout-all", "/api/health"):
        assert path in paths, path
    assert "/api/auth/session" not in paths  # browser form posts are not part of the public API
