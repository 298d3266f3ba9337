"""The FastAPI app that Reflex mounts in front of its own routes (one port for both)."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta, timezone

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saas_app import routes
from saas_app.api import account, auth, billing, health, renders
from saas_app.services.core.errors import AppError, PlanRequired, QuotaExceeded, RateLimited, ServiceUnavailable
from saas_app.services.core.validation import field_path, friendly_message

log = logging.getLogger(__name__)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [{"field": field_path(tuple(err.get("loc", ())), err.get("type", "")), "message": friendly_message(err)}
              for err in exc.errors()]
    message = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return JSONResponse({"error": "validation_error", "message": message, "fields": fields}, status_code=422)


async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
    body: dict = {"error": exc.code, "message": exc.message}
    field = getattr(exc, "field", None)
    if field:
        body["fields"] = [{"field": field, "message": exc.message}]
    if isinstance(exc, QuotaExceeded):
        body.update(metric=exc.metric, used=exc.used, limit=exc.limit, requested=exc.requested,
                    upgrade_url=exc.upgrade_url)
    if isinstance(exc, PlanRequired):
        body.update(required_plan=exc.required_plan, upgrade_url=exc.upgrade_url)
    headers = {}
    if isinstance(exc, (RateLimited, ServiceUnavailable)):
        headers["Retry-After"] = str(exc.retry_after)
        body["retry_after"] = exc.retry_after
        body["eta"] = (datetime.now(timezone.utc) + timedelta(seconds=exc.retry_after)).isoformat()
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"error": "internal_error", "message": "Something went wrong on our side. Please try again."},
        status_code=500,
    )


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
    """Build the API: routers, error mapping, request ids."""
    api = FastAPI(
        title="Narrated Studio API", version="1.0.0",
        docs_url=routes.API_DOCS, redoc_url=None, openapi_url=routes.API_OPENAPI,
    )
    api.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    api.add_exception_handler(AppError, _app_error)  # type: ignore[arg-type]
    api.add_exception_handler(Exception, _unexpected)

    for module in (health, auth, renders, billing, account):
        api.include_router(module.router)
    api.add_middleware(RequestIdMiddleware)
    return api
