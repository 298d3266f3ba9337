"""How API work gets threads and database connections, and what happens past capacity.

- **One unit of work per request.** A sync route runs, with its database session, in one
  task on the API's own thread limiter (`WEB_THREADS` threads); the session is committed (or
  rolled back) in that same thread before the route returns, so every change is committed
  before its answer is sent, a failed commit answers an error, and a connection is held only
  by a thread that is running and is back in the pool before the thread is free again.
  Authentication runs the same way (its own short session). The pool has a connection for
  every thread that can hold one (`db.pool_size`), so no thread ever waits for a connection
  while holding another resource: the deadlock of thread pool and connection pool cannot form.
- **Static files and `/api/health` never wait behind API work:** API work never runs on the
  default thread limiter (the web server's files use it) and the health check has its own.
- **Load shedding.** More than `API_MAX_INFLIGHT` API requests in one process at once: the
  next answers 503 with `Retry-After` at once, instead of queueing into a timeout.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from saas_app import routes
from saas_app.api.errors import ErrorBody, error_response
from saas_app.settings import get_settings

T = TypeVar("T")
HEALTH_THREADS = 1
SHED_RETRY_AFTER_SECONDS = 1
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, anyio.CapacityLimiter]] = (
    weakref.WeakKeyDictionary())
_UNSHED = (routes.API_HEALTH, routes.API_DOCS, routes.API_OPENAPI)


def _limiter(name: str, tokens: int) -> anyio.CapacityLimiter:
    per_loop = _limiters.setdefault(asyncio.get_running_loop(), {})
    if name not in per_loop:
        per_loop[name] = anyio.CapacityLimiter(tokens)
    return per_loop[name]


async def run_api_work(func: Callable[..., T], *args: Any) -> T:
    """Run blocking API work on the API's threads (`WEB_THREADS` of them in this process)."""
    return await anyio.to_thread.run_sync(func, *args, limiter=_limiter("api", get_settings().WEB_THREADS))


async def run_health_check(func: Callable[[], T]) -> T:
    """Run the health check on a thread of its own, whatever the API is doing."""
    return await anyio.to_thread.run_sync(func, limiter=_limiter("health", HEALTH_THREADS))


def _in_one_unit(endpoint: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    sessions = [v for v in kwargs.values() if isinstance(v, Session)]
    try:
        result = endpoint(**kwargs)
        for session in sessions:
            session.commit()
    except BaseException:
        for session in sessions:
            session.rollback()
        raise
    finally:
        for session in sessions:
            session.close()
    return result


class ApiRoute(APIRoute):
    """A route whose sync endpoint runs as one unit of work on the API's threads (see module doc)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _as_unit_of_work(endpoint)
        super().__init__(path, endpoint, **kwargs)


def _as_unit_of_work(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    async def unit_of_work(**kwargs: Any) -> Any:
        return await run_api_work(_in_one_unit, endpoint, kwargs)

    return unit_of_work


class CapacityMiddleware:
    """Answer 503 + `Retry-After` at once past `API_MAX_INFLIGHT` API requests in this process,
    and give Reflex's event handlers (`asyncio.to_thread`) `WEB_THREADS` threads."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.inflight = 0
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._size_default_executor()
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(routes.API_PREFIX) or path in _UNSHED:
            await self.app(scope, receive, send)
            return
        if self.inflight >= get_settings().API_MAX_INFLIGHT:
            response = error_response(503, ErrorBody(
                error="overloaded", message="We are busy right now. Please try again in a moment.",
                retry_after=SHED_RETRY_AFTER_SECONDS), headers={"Retry-After": str(SHED_RETRY_AFTER_SECONDS)})
            await response(scope, receive, send)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1

    def _size_default_executor(self) -> None:
        loop = asyncio.get_running_loop()
        if loop not in self._loops:
            self._loops.add(loop)
            loop.set_default_executor(ThreadPoolExecutor(get_settings().WEB_THREADS, thread_name_prefix="ui"))
