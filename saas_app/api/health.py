"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from saas_app.services.core.health import Health, get_health

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=Health, responses={
    503: {"model": Health, "description": "A dependency is down: the same report, naming it."}})
def health() -> JSONResponse:
    """200 when the database and Redis answer, else 503 naming what is down."""
    result = get_health()
    return JSONResponse(result.model_dump(mode="json"), status_code=200 if result.status == "ok" else 503)
