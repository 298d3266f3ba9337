"""Request plumbing shared by every route: DB session, request context, the caller.

`get_principal` is the single authentication dependency: Bearer access tokens and the
browser's HttpOnly session cookie (with an Origin check on unsafe methods) resolve here.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from saas_app.db import session_scope
from saas_app.services.account.api_keys import authenticate_api_key, looks_like_api_key
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth.sessions import Principal, authenticate_access_token, authenticate_browser_session
from saas_app.services.core import logs
from saas_app.services.core.errors import AuthError, Forbidden
from saas_app.settings import get_settings

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Declared for the OpenAPI document (`get_principal` reads the headers itself, with its own errors).
_BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="An access token (from sign-in or refresh) or an API key (`nsk_...`).")
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey", description="An API key.")


def get_db() -> Iterator[Session]:
    """One transaction per request: committed on success, rolled back on error."""
    with session_scope() as session:
        yield session


def client_ip(request: Request) -> str:
    """The caller's address; behind `TRUSTED_PROXY_HOPS` proxies, taken from X-Forwarded-For."""
    direct = request.client.host if request.client else ""
    hops = get_settings().TRUSTED_PROXY_HOPS
    forwarded = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops][:64]
    return direct


def get_context(request: Request) -> RequestContext:
    """IP, user agent and request id of this request."""
    request_id = getattr(request.state, "request_id", "") or secrets.token_hex(8)
    return RequestContext(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", "")[:400],
        request_id=request_id,
    )


def check_same_origin(request: Request) -> None:
    """Refuse cookie-authenticated unsafe requests that come from another site (CSRF).

    Browsers send `Origin` on cross-site POSTs; when it is absent we fall back to
    `Referer`. Either must match `APP_BASE_URL` or the host the request was sent to.
    """
    if request.method in _SAFE_METHODS:
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


def get_principal(
    request: Request, session: Annotated[Session, Depends(get_db)],
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
    _api_key: Annotated[str | None, Security(_API_KEY)] = None,
) -> Principal:
    """Authenticate the caller: Bearer access token or API key, `X-API-Key`, or the browser cookie.

    Raises:
        AuthError: No valid credentials (401).
        Forbidden: A cookie-authenticated unsafe request from another origin (403).
    """
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthError("Use 'Authorization: Bearer <token or API key>'.")
        if looks_like_api_key(credential):
            return authenticate_api_key(session=session, secret=credential)
        return authenticate_access_token(session=session, token=credential)
    api_key = request.headers.get("x-api-key", "").strip()
    if api_key:
        return authenticate_api_key(session=session, secret=api_key)
    cookie = read_session_cookie(request)
    if cookie:
        check_same_origin(request)
        principal = authenticate_browser_session(session=session, cookie_value=cookie)
        if principal is not None:
            return principal
    raise AuthError("Sign in to continue.")


def get_logged_principal(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """`get_principal`, with the caller put on this request's log line (user id or API key prefix)."""
    logs.bind_principal(tenant_id=principal.tenant_id, user_id=principal.user_id,
                        key_prefix=principal.actor if principal.via == "api_key" else "")
    return principal


def get_user_principal(principal: Annotated[Principal, Depends(get_logged_principal)]) -> Principal:
    """A signed-in person (not an API key): for account, billing and sign-out routes.

    Raises:
        Forbidden: The caller used an API key.
    """
    if principal.via == "api_key":
        raise Forbidden("API keys can use renders and usage only; sign in to manage the account.")
    return principal


DbSession = Annotated[Session, Depends(get_db)]
Context = Annotated[RequestContext, Depends(get_context)]
CurrentPrincipal = Annotated[Principal, Depends(get_logged_principal)]
UserPrincipal = Annotated[Principal, Depends(get_user_principal)]
