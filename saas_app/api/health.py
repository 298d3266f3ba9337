"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from saas_app.services.core.health import get_health

router = APIRouter(tags=["health"])


@router.get("/api/health")
def health() -> JSONResponse:
    """200 when the database and Redis answer, else 503 naming what is down."""
    result = get_health()
    return JSONResponse(result, status_code=200 if result["status"] == "ok" else 503)
