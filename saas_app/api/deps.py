"""Request plumbing shared by every route: DB session, request context, the caller.

`get_principal` is the single authentication dependency: Bearer access tokens and the
browser's HttpOnly session cookie (with an Origin check on unsafe methods) resolve here.
Dependencies do no blocking work on the event loop and hold no connection across threads:
the route's own session is committed by the route's unit of work (`api/capacity.py`), and
authentication commits its own short session on an API thread before the route runs.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from saas_app.api.capacity import run_api_work
from saas_app.db import new_session, session_scope
from saas_app.services.account.api_keys import authenticate_api_key, looks_like_api_key
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth.sessions import Principal, authenticate_access_token, authenticate_browser_session
from saas_app.services.core.errors import AuthError, Forbidden
from saas_app.settings import get_settings

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Declared for the OpenAPI document (`get_principal` reads the headers itself, with its own errors).
_BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="An access token (from sign-in or refresh) or an API key (`nsk_...`).")
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey", description="An API key.")


async def get_db() -> AsyncIterator[Session]:
    """The route's session (no connection until first used). The route's unit of work commits
    it, or rolls it back, in the route's thread before the answer is sent; this only closes it."""
    session = new_session()
    try:
        yield session
    finally:
        session.close()


def client_ip(request: Request) -> str:
    """The caller's address; behind `TRUSTED_PROXY_HOPS` proxies, taken from X-Forwarded-For."""
    direct = request.client.host if request.client else ""
    hops = get_settings().TRUSTED_PROXY_HOPS
    forwarded = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops][:64]
    return direct


async def read_body(request: Request) -> bytes:
    """The raw request body (read on the event loop, before the route's thread starts)."""
    return await request.body()


async def get_context(request: Request) -> RequestContext:
    """IP, user agent and request id of this request."""
    request_id = getattr(request.state, "request_id", "") or secrets.token_hex(8)
    return RequestContext(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", "")[:400],
        request_id=request_id,
    )


def check_same_origin(request: Request) -> None:
    """Refuse cookie-authenticated unsafe requests that come from another site (CSRF).

    Browsers with Fetch Metadata say where a request comes from in `Sec-Fetch-Site`, which
    pages cannot set: only `same-origin` passes. It is also what lets the sign-in link page
    post its form although it sends no `Referer` (its `Referrer-Policy: no-referrer` makes the
    form's `Origin` "null"). Other browsers send `Origin` on cross-site POSTs, or else
    `Referer`: either must match `APP_BASE_URL` or the host the request was sent to.
    """
    if request.method in _SAFE_METHODS:
        return
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site != "same-origin":
            raise Forbidden("This request did not come from the app. Reload the page and try again.")
        return
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    if not source:
        raise Forbidden("This request did not come from the app. Reload the page and try again.")
    origin = urlsplit(source)
    allowed = {urlsplit(get_settings().APP_BASE_URL).netloc, request.headers.get("host", "")}
    if origin.netloc not in allowed:
        raise Forbidden("This request did not come from the app. Reload the page and try again.")


def read_session_cookie(request: Request) -> str:
    """The raw browser session cookie, or ""."""
    return request.cookies.get(get_settings().SESSION_COOKIE_NAME, "")


async def get_principal(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
    _api_key: Annotated[str | None, Security(_API_KEY)] = None,
) -> Principal:
    """Authenticate the caller: Bearer access token or API key, `X-API-Key`, or the browser cookie.

    Raises:
        AuthError: No valid credentials (401).
        Forbidden: A cookie-authenticated unsafe request from another origin (403).
    """
    header = request.headers.get("authorization", "")
    api_key = request.headers.get("x-api-key", "").strip()
    cookie = read_session_cookie(request)
    if header:
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthError("Use 'Authorization: Bearer <token or API key>'.")
        kind = "api_key" if looks_like_api_key(credential) else "token"
    elif api_key:
        kind, credential = "api_key", api_key
    elif cookie:
        check_same_origin(request)
        kind, credential = "cookie", cookie
    else:
        raise AuthError("Sign in to continue.")
    return await run_api_work(authenticate, kind, credential)


def authenticate(kind: str, credential: str) -> Principal:
    """Resolve a credential in a session of its own, committed here (a `last_seen_at` update).

    Raises:
        AuthError: The credential is not valid.
    """
    with session_scope() as session:
        if kind == "api_key":
            return authenticate_api_key(session=session, secret=credential)
        if kind == "token":
            return authenticate_access_token(session=session, token=credential)
        principal = authenticate_browser_session(session=session, cookie_value=credential, cached=True)
    if principal is None:
        raise AuthError("Sign in to continue.")
    return principal


async def get_user_principal(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A signed-in person (not an API key): for account, billing and sign-out routes.

    Raises:
        Forbidden: The caller used an API key.
    """
    if principal.via == "api_key":
        raise Forbidden("API keys can use renders and usage only; sign in to manage the account.")
    return principal


RawBody = Annotated[bytes, Depends(read_body)]
DbSession = Annotated[Session, Depends(get_db, scope="function")]
Context = Annotated[RequestContext, Depends(get_context)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
UserPrincipal = Annotated[Principal, Depends(get_user_principal)]
