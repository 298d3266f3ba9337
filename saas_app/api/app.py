"""The FastAPI app that Reflex mounts in front of its own routes (one port for both)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from saas_app import routes
from saas_app.api import account, assets, auth, billing, health, observability, renders, team, workspaces
from saas_app.api.capacity import CapacityMiddleware
from saas_app.api.errors import (
    ANY_METHOD,
    ErrorBody,
    app_error,
    error_response,
    http_error,
    no_such_endpoint,
    validation_error,
)
from saas_app.api.security_headers import SecurityHeadersMiddleware
from saas_app.services.core.error_reports import init_error_reports
from saas_app.services.core.errors import AppError
from saas_app.services.core.logs import configure_logging

log = logging.getLogger(__name__)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, ErrorBody(error="internal_error",
                                         message="Something went wrong on our side. Please try again."))


def create_api(*, main: bool = False) -> FastAPI:
    """Build the API: routers, error mapping, request ids, JSON 404/405 for every other `/api/` request.

    Reflex mounts its own app behind this one (`api_transformer`), so the catch-all route
    added last is what keeps unmatched API requests from reaching the web app.

    Args:
        main: This is the app process's own API: set up its logs (LOG_FORMAT) and error reports (SENTRY_DSN).
    """
    if main:
        configure_logging()
        init_error_reports()
    api = FastAPI(
        title="Narrated Studio API", version="1.0.0",
        docs_url=routes.API_DOCS, redoc_url=None, openapi_url=routes.API_OPENAPI,
    )
    api.add_exception_handler(RequestValidationError, validation_error)
    api.add_exception_handler(AppError, app_error)
    api.add_exception_handler(HTTPException, http_error)
    api.add_exception_handler(Exception, _unexpected)

    for module in (health, auth, workspaces, team, renders, assets, billing, account, observability):
        api.include_router(module.router)
    api.add_route(routes.API_ANY, no_such_endpoint, methods=list(ANY_METHOD), include_in_schema=False)
    api.add_middleware(observability.RequestContextMiddleware)
    api.add_middleware(SecurityHeadersMiddleware)  # also wraps Reflex's pages, mounted behind this app
    api.add_middleware(CapacityMiddleware)  # outermost: a shed request costs nothing else
    return api
