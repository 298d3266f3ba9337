"""Sign-in routes: magic links, tokens, sign-out (JSON API and browser form posts)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, model_validator

from saas_app import routes
from saas_app.api.capacity import ApiRoute
from saas_app.api.deps import (
    Context,
    CurrentPrincipal,
    DbSession,
    UserPrincipal,
    check_same_origin,
    read_session_cookie,
)
from saas_app.api.errors import AUTH, BODY, errors
from saas_app.api.schemas import MagicLinkSent, SignedOut, SignedOutEverywhere
from saas_app.services.auth import magic_links
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.views import Me, TokenResponse
from saas_app.services.core.errors import AppError, InvalidInput
from saas_app.settings import get_settings

router = APIRouter(route_class=ApiRoute, prefix="/api/auth", tags=["auth"])


class MagicLinkRequest(BaseModel):
    email: str = Field(max_length=320, description="Where to send the sign-in link.")
    next: str | None = Field(default=None, max_length=500, description="App path to return to after sign-in.")


class VerifyRequest(BaseModel):
    token: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    code: str | None = Field(default=None, max_length=12)

    @model_validator(mode="after")
    def _one_way(self) -> VerifyRequest:
        if not self.token and not (self.email and self.code):
            raise ValueError("send either 'token', or 'email' and 'code'")
        return self


class RefreshRequest(BaseModel):
    refresh_token: str = Field(max_length=2000)


@router.post("/magic-link/request", status_code=202, response_model=MagicLinkSent,
             responses=errors(*BODY, 429, 503))
def request_magic_link(body: MagicLinkRequest, session: DbSession, ctx: Context) -> MagicLinkSent:
    """Email a sign-in link and 6-digit code. The answer is the same for every valid address."""
    magic_links.request_magic_link(session=session, email=body.email, next_path=body.next, ctx=ctx)
    return MagicLinkSent()


@router.post("/magic-link/verify", response_model=TokenResponse, responses=errors(*BODY, 401, 429, 503))
def verify_magic_link(body: VerifyRequest, session: DbSession, ctx: Context) -> TokenResponse:
    """Exchange a link token, or an email and code, for access and refresh tokens."""
    if body.token:
        link = magic_links.consume_link_token(session=session, token=body.token)
    else:
        link = magic_links.consume_link_code(session=session, email=body.email or "", code=body.code or "")
    principal, _ = auth_sessions.sign_in_with_link(session=session, link=link, ctx=ctx, kind="api")
    return TokenResponse.from_pair(auth_sessions.issue_api_tokens(session=session, principal=principal))


@router.post("/refresh", response_model=TokenResponse, responses=errors(*BODY, 401))
def refresh(body: RefreshRequest, session: DbSession, ctx: Context) -> TokenResponse:
    """Rotate a refresh token; reusing an old one (after a few seconds' grace) ends its session."""
    pair = auth_sessions.refresh_tokens(session=session, refresh_token=body.refresh_token, ctx=ctx)
    session.commit()  # the new refresh token must work the moment the caller has it
    return TokenResponse.from_pair(pair)


@router.get("/me", response_model=Me, responses=errors(*AUTH))
def me(principal: CurrentPrincipal) -> Me:
    """Who the caller is."""
    return Me.from_principal(principal)


@router.post("/logout", response_model=SignedOut, responses=errors(*AUTH))
def logout(principal: UserPrincipal, session: DbSession, ctx: Context) -> SignedOut:
    """End this session."""
    auth_sessions.logout_session(session=session, principal=principal, ctx=ctx)
    return SignedOut()


@router.post("/logout-all", response_model=SignedOutEverywhere, responses=errors(*AUTH))
def logout_all(principal: UserPrincipal, session: DbSession, ctx: Context) -> SignedOutEverywhere:
    """Sign out everywhere: every session ends, every earlier access token is refused."""
    ended = auth_sessions.logout_all(session=session, principal=principal, ctx=ctx)
    return SignedOutEverywhere(sessions_ended=ended)


# Browser form posts: they set or clear the HttpOnly cookie and redirect (303). Either way the browser's
# principal changes, so its storage for the site (a draft the create page keeps in localStorage, the tab's
# Reflex token) is cleared with it: nothing one user left in the browser reaches the next one.
CLEAR_SITE_STORAGE = {"Clear-Site-Data": '"storage"'}

def _set_cookie(response: RedirectResponse, value: str) -> None:
    settings = get_settings()
    response.set_cookie(
        settings.SESSION_COOKIE_NAME, value, max_age=settings.REFRESH_EXPIRE_DAYS * 86400,
        httponly=True, samesite="lax", secure=settings.SECURE_COOKIES, path=routes.HOME,
    )
    response.headers.update(CLEAR_SITE_STORAGE)


def _clear_cookie(response: RedirectResponse) -> None:
    settings = get_settings()
    response.delete_cookie(settings.SESSION_COOKIE_NAME, path=routes.HOME, httponly=True, samesite="lax",
                           secure=settings.SECURE_COOKIES)
    response.headers.update(CLEAR_SITE_STORAGE)


@router.post("/session", include_in_schema=False)
def browser_sign_in(
    request: Request, session: DbSession, ctx: Context,
    token: Annotated[str, Form(max_length=200)] = "", email: Annotated[str, Form(max_length=320)] = "",
    code: Annotated[str, Form(max_length=12)] = "", next: Annotated[str, Form(max_length=500)] = "",
) -> RedirectResponse:
    """The confirm button (token) or the code form (email + code): set the session cookie."""
    check_same_origin(request)
    try:
        if token:
            link = magic_links.consume_link_token(session=session, token=token)
        else:
            link = magic_links.consume_link_code(session=session, email=email, code=code)
    except (AppError, InvalidInput) as exc:
        if token:
            return RedirectResponse(f"{routes.VERIFY}?{urlencode({'error': 'link_invalid'})}", status_code=303)
        query = {"error": exc.code, "email": email, "next": next}
        return RedirectResponse(f"{routes.LOGIN}?{urlencode(query)}", status_code=303)
    _, cookie = auth_sessions.sign_in_with_link(session=session, link=link, ctx=ctx, kind="browser")
    target = magic_links.safe_next_path(next or link.next_path)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(response, cookie)
    return response


def _browser_sign_out(request: Request, session: DbSession, ctx: Context, everywhere: bool) -> RedirectResponse:
    check_same_origin(request)
    principal = auth_sessions.authenticate_browser_session(session=session, cookie_value=read_session_cookie(request))
    if principal is not None:
        if everywhere:
            auth_sessions.logout_all(session=session, principal=principal, ctx=ctx)
        else:
            auth_sessions.logout_session(session=session, principal=principal, ctx=ctx)
    flag = "all" if everywhere else "1"
    response = RedirectResponse(f"{routes.LOGIN}?signed_out={flag}", status_code=303)
    _clear_cookie(response)
    return response


@router.post("/session/logout", include_in_schema=False)
def browser_sign_out(request: Request, session: DbSession, ctx: Context) -> RedirectResponse:
    """The user menu's "Sign out": end this browser session and clear the cookie."""
    return _browser_sign_out(request, session, ctx, everywhere=False)


@router.post("/session/logout-all", include_in_schema=False)
def browser_sign_out_all(request: Request, session: DbSession, ctx: Context) -> RedirectResponse:
    """The user menu's "Sign out everywhere"."""
    return _browser_sign_out(request, session, ctx, everywhere=True)
