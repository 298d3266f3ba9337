"""Signed-in sessions: sign-in, token refresh with reuse detection, sign-out, principals.

Each sign-in opens an `AuthSession`: a browser session (HttpOnly cookie holding a random
token, stored hashed) or an API session (a rotating refresh-token family). Every request
resolves to a `Principal` here, so authentication lives in one place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from saas_app.models import AuthSession, MagicLink, Membership, RefreshToken, Tenant, User, utcnow
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.auth import principal_cache
from saas_app.services.auth.principal import Principal as Principal
from saas_app.services.auth.principal import principal_for as principal_for
from saas_app.services.auth.principal import proof_lifetime
from saas_app.services.auth.tokens import (
    ACCESS,
    REFRESH,
    decode_token,
    encode_token,
    floor_ms,
    new_secret_token,
    sha256_hex,
)
from saas_app.services.core.errors import AuthError
from saas_app.services.teams import access_changes
from saas_app.services.teams.memberships import (
    create_workspace,
    get_membership,
    latest_membership,
    personal_workspace_name,
    touch_membership,
)
from saas_app.settings import get_settings

log = logging.getLogger(__name__)
SESSION_ENDED = "Your session has ended. Please sign in again."
NO_LONGER_MEMBER = "You are no longer a member of this workspace. Please sign in again."
SWITCHED = "This token is for a workspace this session has left. Use the tokens the switch answered."


@dataclass(frozen=True)
class TokenPair:
    """What the API answers after sign-in or refresh."""

    access_token: str
    refresh_token: str
    expires_in: int
    principal: Principal


def get_or_create_user(*, session: Session, email: str, ctx: RequestContext) -> tuple[User, Tenant, Membership]:
    """The user for `email` and the workspace a new session opens in (the one they were last active in).

    The first sign-in creates the user with a personal workspace (owner); so does a sign-in of a
    person who no longer belongs to any workspace.
    """
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        try:
            with session.begin_nested():
                user = User(email=email)
                session.add(user)
                session.flush()
                create_workspace(session=session, user=user, name=personal_workspace_name(email), ctx=ctx)
        except IntegrityError:  # a concurrent first sign-in won the race
            user = session.exec(select(User).where(User.email == email)).one()
    membership = latest_membership(session=session, user_id=user.id)
    if membership is None:
        membership = create_workspace(session=session, user=user, name=personal_workspace_name(email), ctx=ctx)
    found = session.get(Tenant, membership.tenant_id)
    assert found is not None
    return user, found, membership


def _open_session(session: Session, user: User, membership: Membership, *, kind: str,
                  ctx: RequestContext) -> tuple[AuthSession, str | None]:
    settings = get_settings()
    raw = new_secret_token(32) if kind == "browser" else None
    row = AuthSession(
        user_id=user.id, tenant_id=membership.tenant_id, kind=kind,
        token_hash=sha256_hex(raw) if raw else None, ip=ctx.ip[:64], user_agent=ctx.user_agent[:400],
        expires_at=utcnow() + timedelta(days=settings.REFRESH_EXPIRE_DAYS),
    )
    session.add(row)
    user.last_login_at = membership.last_active_at = utcnow()
    session.add(membership)
    session.flush()
    return row, raw


def _issue_pair(session: Session, user: User, tenant: Tenant, membership: Membership,
                auth_session: AuthSession) -> TokenPair:
    access, _ = encode_token(typ=ACCESS, user_id=user.id, tenant_id=tenant.id, session_id=auth_session.id)
    refresh, claims = encode_token(typ=REFRESH, user_id=user.id, tenant_id=tenant.id, session_id=auth_session.id)
    session.add(RefreshToken(jti=claims.jti, session_id=auth_session.id, user_id=user.id,
                             expires_at=datetime.fromtimestamp(claims.expires_at, UTC)))
    return TokenPair(access_token=access, refresh_token=refresh,
                     expires_in=get_settings().JWT_EXPIRE_HOURS * 3600,
                     principal=principal_for(user, tenant, membership, auth_session.id))


def sign_in_with_link(*, session: Session, link: MagicLink, ctx: RequestContext, kind: str) -> tuple[Principal, str]:
    """Open a session for a consumed magic link.

    Args:
        kind: `api` answers a token pair (as JSON); `browser` answers a cookie value.

    Returns:
        The principal, and either the raw cookie value (browser) or "" (api; use
        `issue_api_tokens`).
    """
    user, tenant, membership = get_or_create_user(session=session, email=link.email, ctx=ctx)
    auth_session, raw = _open_session(session, user, membership, kind=kind, ctx=ctx)
    record_event(session=session, action="auth.signed_in", ctx=ctx, tenant_id=tenant.id, user_id=user.id,
                 actor=user.email, target=auth_session.id, details={"kind": kind})
    return principal_for(user, tenant, membership, auth_session.id), raw or ""


def issue_api_tokens(*, session: Session, principal: Principal) -> TokenPair:
    """Access and refresh tokens for an API session, in the session's current workspace.

    Raises:
        AuthError: The caller is no longer a member of that workspace.
    """
    user = session.get(User, principal.user_id)
    auth_session = session.get(AuthSession, principal.session_id)
    assert user and auth_session
    tenant, membership = _workspace_of(session, user, auth_session.tenant_id)
    return _issue_pair(session, user, tenant, membership, auth_session)


def is_api_session(*, session: Session, session_id: str) -> bool:
    """Whether a session is an API refresh-token family (not a browser cookie)."""
    row = session.get(AuthSession, session_id) if session_id else None
    return row is not None and row.kind == "api"


def _workspace_of(session: Session, user: User, tenant_id: str) -> tuple[Tenant, Membership]:
    """The workspace a session acts in and the user's membership there.

    Raises:
        AuthError: The user is no longer a member (removed, left, or the workspace is gone).
    """
    membership = get_membership(session=session, tenant_id=tenant_id, user_id=user.id)
    tenant = session.get(Tenant, tenant_id)
    if membership is None or tenant is None:
        raise AuthError(NO_LONGER_MEMBER)
    return tenant, membership


def open_api_session(*, session: Session, email: str, ctx: RequestContext) -> TokenPair:
    """Sign an address in without a magic link (operator tooling: the load test's token pool).

    Creates the user and workspace on first use, like a first sign-in. Never reachable over HTTP.
    """
    user, tenant, membership = get_or_create_user(session=session, email=email, ctx=ctx)
    auth_session, _ = _open_session(session, user, membership, kind="api", ctx=ctx)
    return _issue_pair(session, user, tenant, membership, auth_session)


def refresh_tokens(*, session: Session, refresh_token: str, ctx: RequestContext) -> TokenPair:
    """Rotate a refresh token. Reusing a rotated token revokes its whole family.

    A token rotated less than `REFRESH_REUSE_GRACE_SECONDS` ago (two tabs or retries
    refreshing at once) counts as the same rotation: that caller gets a working pair of
    its own too. Either way the answer is a pair that works, or an error.

    Raises:
        AuthError: Invalid, expired, revoked, or reused after the grace window.
    """
    claims = decode_token(refresh_token, expected_typ=REFRESH)
    row = session.get(RefreshToken, claims.jti)
    auth_session = session.get(AuthSession, claims.session_id)
    if row is None or auth_session is None or row.session_id != auth_session.id:
        raise AuthError("Invalid token.")
    if auth_session.revoked_at is not None or auth_session.expires_at <= utcnow():
        raise AuthError(SESSION_ENDED)
    rotated = session.exec(
        update(RefreshToken).where(col(RefreshToken.jti) == row.jti, col(RefreshToken.rotated_at).is_(None))
        .values(rotated_at=utcnow())
    )
    if rotated.rowcount != 1 and not _rotated_within_grace(session, row.jti):
        revoke_sessions(session=session, session_ids=[auth_session.id])
        record_event(session=session, action="auth.refresh_reuse_detected", ctx=ctx,
                     tenant_id=auth_session.tenant_id, user_id=auth_session.user_id, target=auth_session.id)
        session.commit()  # the revocation must stand although we refuse the request
        raise AuthError("This refresh token was already used; the session was ended for safety.")
    user = session.get(User, claims.user_id)
    assert user is not None
    tenant, membership = _workspace_of(session, user, auth_session.tenant_id)
    auth_session.last_seen_at = utcnow()
    touch_membership(session=session, membership=membership)
    return _issue_pair(session, user, tenant, membership, auth_session)


def _rotated_within_grace(session: Session, jti: str) -> bool:
    """Whether the token's rotation (read fresh: a concurrent request may have just made it) is recent."""
    rotated_at = session.exec(select(RefreshToken.rotated_at).where(col(RefreshToken.jti) == jti)).one()
    if rotated_at is None:
        return False
    age = (utcnow() - rotated_at.replace(tzinfo=rotated_at.tzinfo or UTC)).total_seconds()
    return age <= get_settings().REFRESH_REUSE_GRACE_SECONDS


def revoke_sessions(*, session: Session, session_ids: list[str]) -> None:
    """Revoke sessions in the database; their cached principals are dropped before the commit.

    Raises:
        ServiceUnavailable: The cache could not be cleared (nothing is revoked then).
    """
    if not session_ids:
        return
    principal_cache.invalidate([principal_cache.session_scope_of(sid) for sid in session_ids], session=session)
    users = session.exec(select(AuthSession.user_id).where(col(AuthSession.id).in_(session_ids)).distinct()).all()
    access_changes.note_after_commit(session=session, user_ids=list(users))  # their open tabs check at once
    session.exec(
        update(AuthSession).where(col(AuthSession.id).in_(session_ids), col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


def authenticate_access_token(*, session: Session, token: str) -> Principal:
    """Verify an access token and that neither its session nor its user was signed out.

    A principal proved before is answered from the cache (one Redis round trip); otherwise
    the database decides and the proof is cached until a row it rests on changes.

    Raises:
        AuthError: Invalid, expired, or signed out.
    """
    claims = decode_token(token, expected_typ=ACCESS)
    digest = principal_cache.credential_digest(token)
    seen = principal_cache.lookup(digest)
    if seen.principal is not None:
        return seen.principal
    user = session.get(User, claims.user_id)
    auth_session = session.get(AuthSession, claims.session_id)
    if user is None or auth_session is None or auth_session.user_id != user.id:
        raise AuthError("Invalid token.")
    valid_after = floor_ms(user.tokens_valid_after.timestamp()) if user.tokens_valid_after else 0.0
    if auth_session.revoked_at is not None or claims.issued_at < valid_after:
        raise AuthError(SESSION_ENDED)
    if claims.tenant_id != auth_session.tenant_id:  # the session switched workspace: use the newer tokens
        raise AuthError(SWITCHED)
    tenant, membership = _workspace_of(session, user, auth_session.tenant_id)
    principal = principal_for(user, tenant, membership, auth_session.id)
    principal_cache.store(digest, principal, seen=seen,
                          ttl_seconds=proof_lifetime(tenant, claims.expires_at, auth_session.expires_at.timestamp()),
                          scopes=_scopes(principal))
    return principal


def _scopes(principal: Principal) -> list[str]:
    return [principal_cache.session_scope_of(principal.session_id), principal_cache.user_scope_of(principal.user_id),
            principal_cache.tenant_scope_of(principal.tenant_id)]


def authenticate_browser_session(*, session: Session, cookie_value: str, cached: bool = False) -> Principal | None:
    """The principal behind a session cookie, or None when it is unknown, expired or revoked.

    Args:
        cached: Use the principal cache like access tokens (the API does; a tab's events read
            the database only, so a stalled Redis never holds them up). `last_seen_at` is
            brought up to date (at most once a minute) whenever the database is read.
    """
    if not cookie_value or len(cookie_value) > 200:
        return None
    digest = principal_cache.credential_digest(cookie_value)
    seen = principal_cache.lookup(digest) if cached else principal_cache.Lookup(principal=None, generation=None)
    if seen.principal is not None:
        return seen.principal
    row = session.exec(select(AuthSession).where(AuthSession.token_hash == sha256_hex(cookie_value))).first()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    membership = get_membership(session=session, tenant_id=row.tenant_id, user_id=row.user_id)
    tenant = session.get(Tenant, row.tenant_id)
    if user is None or tenant is None or membership is None:
        return None
    if (now - row.last_seen_at).total_seconds() > 60:
        row.last_seen_at = now
        session.add(row)
    touch_membership(session=session, membership=membership)
    principal = principal_for(user, tenant, membership, row.id)
    principal_cache.store(digest, principal, seen=seen, ttl_seconds=proof_lifetime(tenant, row.expires_at.timestamp()),
                          scopes=_scopes(principal))
    return principal


def logout_session(*, session: Session, principal: Principal, ctx: RequestContext) -> None:
    """End the caller's own session (its refresh tokens and access tokens stop working)."""
    revoke_sessions(session=session, session_ids=[principal.session_id])
    record_event(session=session, action="auth.logout", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=principal.session_id)


def logout_all(*, session: Session, principal: Principal, ctx: RequestContext) -> int:
    """Sign the user out everywhere: revoke every session and set the token cutoff.

    Returns:
        How many sessions were ended.
    """
    now = utcnow()
    user = session.get(User, principal.user_id)
    assert user is not None
    user.tokens_valid_after = now
    session.add(user)
    ids = list(session.exec(
        select(AuthSession.id).where(AuthSession.user_id == user.id, col(AuthSession.revoked_at).is_(None))
    ).all())
    principal_cache.invalidate([principal_cache.user_scope_of(user.id)], session=session)
    revoke_sessions(session=session, session_ids=ids)
    record_event(session=session, action="auth.logout_all", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, details={"sessions": len(ids)})
    return len(ids)


def forget_users(*, user_ids: list[str], session_ids: list[str]) -> None:
    """Drop the cached principals of users and their sessions (account deletion).

    Raises:
        ServiceUnavailable: Redis is unreachable (the purge is retried).
    """
    principal_cache.invalidate([*[principal_cache.user_scope_of(uid) for uid in user_ids],
                                *[principal_cache.session_scope_of(sid) for sid in session_ids]])
