"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from saas_app import routes
from saas_app.api.capacity import run_health_check
from saas_app.services.core.health import Health, get_health

router = APIRouter(tags=["health"])


@router.get(routes.API_HEALTH, response_model=Health, responses={
    503: {"model": Health, "description": "A dependency is down: the same report, naming it."}})
async def health() -> JSONResponse:
    """200 when the database and Redis answer, else 503 naming what is down (on a thread of its
    own, so it answers while API work fills every other thread)."""
    result = await run_health_check(get_health)
    return JSONResponse(result.model_dump(mode="json"), status_code=200 if result.status == "ok" else 503)
