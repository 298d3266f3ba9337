"""Per-request observability: the request id, one structured log line, the HTTP metric, `/metrics`."""

from __future__ import annotations

import secrets
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saas_app import routes
from saas_app.api.errors import errors
from saas_app.services.core import logs, metrics_scrape
from saas_app.services.core.errors import AuthError, NotFound

router = APIRouter(tags=["operations"])
UNMATCHED = "unmatched"  # the route label of requests no route matched (keeps the label set small)


def route_template(scope: Scope) -> str:
    """The template of the route that served the request (`/api/renders/{render_id}`), not its path."""
    route = scope.get("route")
    path = getattr(route, "path", "")
    return path if path and path != routes.API_ANY else UNMATCHED


class RequestContextMiddleware:
    """Give every HTTP request an id (kept from a sane `X-Request-ID`) and echo it back; log one line
    per request (id, tenant, caller, route template, status, duration) and observe its duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming[:64] if incoming.isalnum() else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        logs.bind(request_id=request_id)
        started, status = time.monotonic(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.log_request(method=scope["method"], route=route_template(scope), status=status,
                             seconds=time.monotonic() - started)


@router.get(routes.METRICS, response_class=Response, responses={
    200: {"content": {"text/plain": {"schema": {"type": "string"}}},
          "description": "Every series in the Prometheus text format (version 0.0.4)."}, **errors(401, 404)})
async def metrics(request: Request) -> Response:
    """Every series of this host's app processes and workers (needs `Authorization: Bearer <METRICS_TOKEN>`)."""
    if not metrics_scrape.metrics_enabled():
        raise NotFound("Metrics are not enabled on this server (set METRICS_TOKEN).")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not metrics_scrape.token_matches(token.strip()):
        raise AuthError("Use 'Authorization: Bearer <METRICS_TOKEN>'.")
    return Response(await run_in_threadpool(metrics_scrape.render_metrics), media_type=metrics_scrape.CONTENT_TYPE)
