"""The FastAPI app that Reflex mounts in front of its own routes (one port for both)."""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saas_app import routes
from saas_app.api import account, auth, billing, health, renders
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
from saas_app.services.core.errors import AppError

log = logging.getLogger(__name__)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, ErrorBody(error="internal_error",
                                         message="Something went wrong on our side. Please try again."))


class RequestIdMiddleware:
    """Give every HTTP request an id (kept from a sane `X-Request-ID`) and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming[:64] if incoming.isalnum() else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_api() -> FastAPI:
    """Build the API: routers, error mapping, request ids, JSON 404/405 for every other `/api/` request.

    Reflex mounts its own app behind this one (`api_transformer`), so the catch-all route
    added last is what keeps unmatched API requests from reaching the web app.
    """
    api = FastAPI(
        title="Narrated Studio API", version="1.0.0",
        docs_url=routes.API_DOCS, redoc_url=None, openapi_url=routes.API_OPENAPI,
    )
    api.add_exception_handler(RequestValidationError, validation_error)
    api.add_exception_handler(AppError, app_error)
    api.add_exception_handler(HTTPException, http_error)
    api.add_exception_handler(Exception, _unexpected)

    for module in (health, auth, renders, billing, account):
        api.include_router(module.router)
    api.add_route(routes.API_ANY, no_such_endpoint, methods=list(ANY_METHOD), include_in_schema=False)
    api.add_middleware(RequestIdMiddleware)
    api.add_middleware(SecurityHeadersMiddleware)  # also wraps Reflex's pages, mounted behind this app
    api.add_middleware(CapacityMiddleware)  # outermost: a shed request costs nothing else
    return api
