"""Sessions on a real database and Redis: sign-in, rotation, reuse detection, sign-out."""

from __future__ import annotations

import calendar
from datetime import timedelta

import pytest
import redis
from factories import (
    CTX,
    age_refresh_rotation,
    claims_of,
    clear_rate_limits,
    jwt_payload,
    request_link,
    role_of,
    sign_jwt,
    tenant_id_of,
)
from sqlmodel import Session, select

from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import AuditLog, AuthSession, RefreshToken, Tenant, User, utcnow
from saas_app.services.auth import magic_links
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.sessions import Principal, TokenPair
from saas_app.services.core.errors import AuthError

pytestmark = pytest.mark.db

EMAIL = "grace@example.com"


def _principal_from_link(session: Session, smtp: MailCatcher, rc: redis.Redis, kind: str,
                         email: str) -> tuple[Principal, str]:
    clear_rate_limits(rc)  # several sign-ins of one address in a test stand for time passing
    token, _ = request_link(session, smtp, email)
    link = magic_links.consume_link_token(session=session, token=token)
    return auth_sessions.sign_in_with_link(session=session, link=link, ctx=CTX, kind=kind)


def api_sign_in(session: Session, smtp: MailCatcher, rc: redis.Redis, email: str = EMAIL) -> TokenPair:
    """Sign in as an API client and commit, like the verify endpoint does."""
    principal, _ = _principal_from_link(session, smtp, rc, "api", email)
    pair = auth_sessions.issue_api_tokens(session=session, principal=principal)
    session.commit()
    return pair


def browser_sign_in(session: Session, smtp: MailCatcher, rc: redis.Redis, email: str = EMAIL) -> tuple[Principal, str]:
    """Sign in as a browser and commit; returns the principal and the cookie value."""
    principal, cookie = _principal_from_link(session, smtp, rc, "browser", email)
    session.commit()
    return principal, cookie


def authenticate(session: Session, token: str) -> Principal:
    session.expire_all()
    return auth_sessions.authenticate_access_token(session=session, token=token)


def _actions(session: Session) -> list[str]:
    session.expire_all()
    return [row.action for row in session.exec(select(AuditLog).order_by(AuditLog.id)).all()]


def test_first_sign_in_creates_an_owner_in_a_new_tenant(session: Session, mailbox: MailCatcher,
                                                        redis_client: redis.Redis) -> None:
    pair = api_sign_in(session, mailbox, redis_client)
    user = session.exec(select(User).where(User.email == EMAIL)).one()
    tenant = session.get(Tenant, tenant_id_of(user))
    assert tenant is not None and tenant.plan == "free" and tenant.name == "grace's workspace"
    assert role_of(user) == "owner" and user.last_login_at is not None
    assert pair.principal == Principal(user_id=user.id, tenant_id=tenant.id, email=EMAIL, role="owner",
                                       plan="free", session_id=pair.principal.session_id)
    auth_session = session.get(AuthSession, pair.principal.session_id)
    assert auth_session is not None and auth_session.kind == "api" and auth_session.token_hash is None
    assert session.get(RefreshToken, claims_of(pair.refresh_token)["jti"]) is not None
    assert _actions(session) == ["auth.link_requested", "tenant.created", "auth.signed_in"]
    signed_in = session.exec(select(AuditLog).where(AuditLog.action == "auth.signed_in")).one()
    assert (signed_in.tenant_id, signed_in.user_id) == (tenant.id, user.id)
    assert (signed_in.ip, signed_in.user_agent, signed_in.request_id) == (CTX.ip, CTX.user_agent, CTX.request_id)
    assert authenticate(session, pair.access_token) == pair.principal


def test_second_sign_in_reuses_the_account(session: Session, mailbox: MailCatcher, redis_client: redis.Redis) -> None:
    first = api_sign_in(session, mailbox, redis_client)
    second = api_sign_in(session, mailbox, redis_client)
    assert first.principal.user_id == second.principal.user_id
    assert first.principal.session_id != second.principal.session_id
    assert len(session.exec(select(Tenant)).all()) == 1
    assert _actions(session).count("tenant.created") == 1


def test_refresh_rotates_the_pair(session: Session, mailbox: MailCatcher, redis_client: redis.Redis) -> None:
    first = api_sign_in(session, mailbox, redis_client)
    second = auth_sessions.refresh_tokens(session=session, refresh_token=first.refresh_token, ctx=CTX)
    session.commit()
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    assert second.principal.session_id == first.principal.session_id
    old = session.get(RefreshToken, claims_of(first.refresh_token)["jti"])
    assert old is not None and old.rotated_at is not None
    assert authenticate(session, second.access_token).user_id == first.principal.user_id
    third = auth_sessions.refresh_tokens(session=session, refresh_token=second.refresh_token, ctx=CTX)
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)


def test_reusing_a_rotated_refresh_token_revokes_the_family(session: Session, mailbox: MailCatcher,
                                                            redis_client: redis.Redis) -> None:
    first = api_sign_in(session, mailbox, redis_client)
    other = api_sign_in(session, mailbox, redis_client)  # another device of the same user
    second = auth_sessions.refresh_tokens(session=session, refresh_token=first.refresh_token, ctx=CTX)
    session.commit()
    age_refresh_rotation(session, first.refresh_token)
    with pytest.raises(AuthError, match="already used"):
        auth_sessions.refresh_tokens(session=session, refresh_token=first.refresh_token, ctx=CTX)
    session.rollback()
    for token in (second.access_token, first.access_token):
        with pytest.raises(AuthError):
            authenticate(session, token)
    with pytest.raises(AuthError):
        auth_sessions.refresh_tokens(session=session, refresh_token=second.refresh_token, ctx=CTX)
    redis_client.flushdb()  # the revocation is in the database, not only in the cache
    with pytest.raises(AuthError):
        authenticate(session, second.access_token)
    assert session.get(AuthSession, first.principal.session_id).revoked_at is not None  # type: ignore[union-attr]
    assert authenticate(session, other.access_token).session_id == other.principal.session_id
    event = session.exec(select(AuditLog).where(AuditLog.action == "auth.refresh_reuse_detected")).one()
    assert (event.tenant_id, event.user_id, event.target) == (
        first.principal.tenant_id, first.principal.user_id, first.principal.session_id)
    assert event.ip == CTX.ip


def test_refresh_is_refused_for_an_expired_session(session: Session, mailbox: MailCatcher,
                                                   redis_client: redis.Redis) -> None:
    pair = api_sign_in(session, mailbox, redis_client)
    row = session.get(AuthSession, pair.principal.session_id)
    assert row is not None
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    with pytest.raises(AuthError, match="session has ended"):
        auth_sessions.refresh_tokens(session=session, refresh_token=pair.refresh_token, ctx=CTX)


def test_logout_ends_only_that_session(session: Session, mailbox: MailCatcher, redis_client: redis.Redis) -> None:
    ending, staying = api_sign_in(session, mailbox, redis_client), api_sign_in(session, mailbox, redis_client)
    auth_sessions.logout_session(session=session, principal=ending.principal, ctx=CTX)
    session.commit()
    with pytest.raises(AuthError):
        authenticate(session, ending.access_token)
    with pytest.raises(AuthError):
        auth_sessions.refresh_tokens(session=session, refresh_token=ending.refresh_token, ctx=CTX)
    session.rollback()
    assert authenticate(session, staying.access_token) == staying.principal
    auth_sessions.refresh_tokens(session=session, refresh_token=staying.refresh_token, ctx=CTX)
    assert "auth.logout" in _actions(session)


def test_logout_all_ends_every_session_and_the_database_is_authoritative(
    session: Session, mailbox: MailCatcher, redis_client: redis.Redis
) -> None:
    api_pair = api_sign_in(session, mailbox, redis_client)
    _, cookie = browser_sign_in(session, mailbox, redis_client)
    ended = auth_sessions.logout_all(session=session, principal=api_pair.principal, ctx=CTX)
    session.commit()
    assert ended == 2
    for flushed in (False, True):
        if flushed:
            redis_client.flushdb()
        with pytest.raises(AuthError):
            authenticate(session, api_pair.access_token)
        assert auth_sessions.authenticate_browser_session(session=session, cookie_value=cookie) is None
    with pytest.raises(AuthError):
        auth_sessions.refresh_tokens(session=session, refresh_token=api_pair.refresh_token, ctx=CTX)
    session.rollback()
    rows = session.exec(select(AuthSession)).all()
    assert len(rows) == 2 and all(row.revoked_at is not None for row in rows)
    assert "auth.logout_all" in _actions(session)

    fresh = api_sign_in(session, mailbox, redis_client)
    assert authenticate(session, fresh.access_token).session_id == fresh.principal.session_id


def test_logout_all_cutoff_refuses_older_tokens_even_for_a_live_session(
    session: Session, mailbox: MailCatcher, redis_client: redis.Redis
) -> None:
    pair = api_sign_in(session, mailbox, redis_client)
    auth_sessions.logout_all(session=session, principal=pair.principal, ctx=CTX)
    session.commit()
    fresh = api_sign_in(session, mailbox, redis_client)
    user = session.get(User, fresh.principal.user_id)
    assert user is not None and user.tokens_valid_after is not None
    cutoff = calendar.timegm(user.tokens_valid_after.utctimetuple())
    # A token for the new, live session but issued before the cutoff (as if stolen earlier).
    older = sign_jwt(jwt_payload(sub=user.id, tid=tenant_id_of(user), sid=fresh.principal.session_id,
                                 iat=cutoff - 10))
    for flushed in (False, True):
        if flushed:
            redis_client.flushdb()
        with pytest.raises(AuthError):
            authenticate(session, older)
        assert authenticate(session, fresh.access_token).user_id == user.id


def test_access_token_must_match_its_session_owner(session: Session, mailbox: MailCatcher,
                                                   redis_client: redis.Redis) -> None:
    mine = api_sign_in(session, mailbox, redis_client)
    theirs = api_sign_in(session, mailbox, redis_client, email="other@example.com")
    crossed = sign_jwt(jwt_payload(sub=mine.principal.user_id, tid=mine.principal.tenant_id,
                                   sid=theirs.principal.session_id))
    with pytest.raises(AuthError):
        authenticate(session, crossed)


def test_browser_cookie_resolution(session: Session, mailbox: MailCatcher, redis_client: redis.Redis) -> None:
    principal, cookie = browser_sign_in(session, mailbox, redis_client)
    row = session.get(AuthSession, principal.session_id)
    assert row is not None and row.kind == "browser" and row.token_hash not in (None, cookie)
    assert auth_sessions.authenticate_browser_session(session=session, cookie_value=cookie) == principal
    for garbage in ("", "garbage", cookie[:-1], cookie + "x", "x" * 500):
        assert auth_sessions.authenticate_browser_session(session=session, cookie_value=garbage) is None

    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    assert auth_sessions.authenticate_browser_session(session=session, cookie_value=cookie) is None

    revoked, revoked_cookie = browser_sign_in(session, mailbox, redis_client)
    auth_sessions.logout_session(session=session, principal=revoked, ctx=CTX)
    session.commit()
    assert auth_sessions.authenticate_browser_session(session=session, cookie_value=revoked_cookie) is None


def test_reuse_within_the_grace_window_is_the_same_rotation(session: Session, mailbox: MailCatcher,
                                                            redis_client: redis.Redis) -> None:
    first = api_sign_in(session, mailbox, redis_client)
    second = auth_sessions.refresh_tokens(session=session, refresh_token=first.refresh_token, ctx=CTX)
    session.commit()
    again = auth_sessions.refresh_tokens(session=session, refresh_token=first.refresh_token, ctx=CTX)
    session.commit()
    assert again.refresh_token != second.refresh_token
    for pair in (second, again):
        assert authenticate(session, pair.access_token).user_id == first.principal.user_id
    auth_sessions.refresh_tokens(session=session, refresh_token=again.refresh_token, ctx=CTX)
    auth_sessions.refresh_tokens(session=session, refresh_token=second.refresh_token, ctx=CTX)
