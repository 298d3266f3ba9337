"""The one error body every API answer uses, how routes declare it, and the handlers that send it.

Every 4xx/5xx answer is an `ErrorBody`: `error` (a machine-readable code), `message`
(plain words for a person) and, where they apply, the fields that were refused, the
quota or plan numbers, or when to retry. Routes declare the statuses they can give with
`errors(...)`, so the OpenAPI document lists them (a contract test checks that it does).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from saas_app.services.core.errors import (
    AppError,
    PlanRequired,
    QuotaExceeded,
    RateLimited,
    SeatLimitReached,
    ServiceUnavailable,
)
from saas_app.services.core.validation import field_path, friendly_message


class FieldError(BaseModel):
    """One refused value: its dotted path (e.g. `scenes.0.text`) and what is wrong with it."""

    field: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: str = Field(description="Machine-readable code, e.g. `quota_exceeded`, `not_found`.")
    message: str = Field(description="What went wrong and what to do next, in plain words.")
    fields: list[FieldError] | None = Field(default=None, description="422: each refused value.")
    metric: str | None = Field(default=None, description="402 quota: the metric that would go over.")
    used: float | None = Field(default=None, description="402 quota: amount used this month.")
    limit: float | None = Field(default=None, description="402 quota: the plan's monthly limit.")
    requested: float | None = Field(default=None, description="402 quota: amount this request needs.")
    required_plan: str | None = Field(default=None, description="402 plan: the plan that has the feature.")
    seats: int | None = Field(default=None, description="402 seats: the plan's number of seats.")
    upgrade_url: str | None = Field(default=None, description="402: where to upgrade.")
    retry_after: int | None = Field(default=None, description="429/503: seconds to wait (also `Retry-After`).")
    eta: str | None = Field(default=None, description="429/503: when to retry, ISO 8601 UTC.")


_DESCRIPTIONS = {
    400: "The request could not be read (a body that does not parse, a bad signature).",
    401: "Missing, invalid, expired or revoked credentials.",
    402: "Over the monthly quota, a feature of a higher plan, or every seat taken (`upgrade_url` says where "
         "to upgrade).",
    403: "Not allowed: an API key on an account route, a browser request from another site, or a role that "
         "may not do this.",
    404: "Not found in this workspace.",
    409: "Conflicts with the current state (e.g. canceling a finished render).",
    410: "Expired.",
    416: "The `Range` asked for is outside the file.",
    422: "A value is missing or not acceptable (`fields` names each one).",
    429: "Too many requests: retry after `retry_after` seconds.",
    502: "The payment provider could not be reached or refused; nothing was changed.",
    503: "A dependency is briefly down, the server is at capacity (retry after `Retry-After`), or billing "
         "is not configured on this server.",
    507: "The server is short of disk space; new renders are paused.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
AUTH = (401, 403)  # a route that needs credentials
BODY = (400, 422)  # a route that reads a JSON body: unreadable, or a value refused


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can answer these error statuses (all with an `ErrorBody`).

    Every API route can answer 503 (at capacity: see `api/capacity.py`), so it is always listed.
    """
    declared: dict[int | str, dict[str, Any]] = {}
    for code in sorted({*codes, 503}):
        declared[code] = {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        if code in (429, 503):
            declared[code]["headers"] = _RETRY_AFTER
    return declared


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error answer: only the fields that apply are sent."""
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming each refused field."""
    assert isinstance(exc, RequestValidationError)
    fields = [FieldError(field=field_path(tuple(err.get("loc", ())), err.get("type", "")),
                         message=friendly_message(err)) for err in exc.errors()]
    message = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return error_response(422, ErrorBody(error="validation_error", message=message, fields=fields))


async def app_error(_request: Request, exc: Exception) -> JSONResponse:
    """A service's error, with its status, code and message (and quota, plan or retry data)."""
    assert isinstance(exc, AppError)
    body = ErrorBody(error=exc.code, message=exc.message)
    field = getattr(exc, "field", None)
    if field:
        body.fields = [FieldError(field=field, message=exc.message)]
    if isinstance(exc, QuotaExceeded):
        body.metric, body.used, body.limit, body.requested = exc.metric, exc.used, exc.limit, exc.requested
        body.upgrade_url = exc.upgrade_url
    if isinstance(exc, PlanRequired):
        body.required_plan, body.upgrade_url = exc.required_plan, exc.upgrade_url
    if isinstance(exc, SeatLimitReached):
        body.seats, body.upgrade_url = exc.seats, exc.upgrade_url
    headers = {}
    if isinstance(exc, (RateLimited, ServiceUnavailable)):
        headers["Retry-After"] = str(exc.retry_after)
        body.retry_after = exc.retry_after
        body.eta = (datetime.now(UTC) + timedelta(seconds=exc.retry_after)).isoformat()
    return error_response(exc.status_code, body, headers)


_HTTP_MESSAGES = {
    400: "The request body could not be read. Send JSON (UTF-8) with `Content-Type: application/json`.",
}


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Errors raised by the framework itself (e.g. 400 for a body that does not parse), in the same shape."""
    assert isinstance(exc, HTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    message = _HTTP_MESSAGES.get(exc.status_code, exc.detail if isinstance(exc.detail, str) else phrase)
    code = phrase.lower().replace(" ", "_").replace("-", "_")
    return error_response(exc.status_code, ErrorBody(error=code, message=message), dict(exc.headers or {}))


# Every method a client may send to a path under /api/ (the catch-all route answers them all).
ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """The methods some API route accepts at this request's path (mounted apps are not asked)."""
    routes = [route for route in request.app.router.routes
              if not isinstance(route, Mount) and getattr(route, "endpoint", None) is not no_such_endpoint]
    allowed = []
    for method in ANY_METHOD:
        probe = {"type": "http", "path": request.url.path, "root_path": "", "method": method, "headers": [],
                 "query_string": b""}
        if any(route.matches(probe)[0] == Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def no_such_endpoint(request: Request) -> JSONResponse:
    """Any `/api/...` request no route matched: 405 (with `Allow`) for a known path, else 404.

    Without this, unmatched API requests would fall through to the web app mounted behind
    the API (its HTML 404 page, or its static files' `Allow: GET, HEAD`).
    """
    path = request.url.path
    allowed = _allowed_methods(request)
    if allowed:
        message = f"{path} does not accept {request.method}; use {', '.join(allowed)}."
        return error_response(405, ErrorBody(error="method_not_allowed", message=message),
                              {"Allow": ", ".join(allowed)})
    return error_response(404, ErrorBody(error="not_found",
                                         message=f"There is no API endpoint at {path}. See /api/docs."))
