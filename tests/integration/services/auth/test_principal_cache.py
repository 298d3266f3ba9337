"""The verified-principal cache on real Redis and a real database: a known credential is
answered from one Redis round trip, and every change its principal rests on drops it before
the change is committed (sign-out, sign-out everywhere, session and key revocation, plan
change, deletion); a read that raced an invalidation is not stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import redis
from factories import CTX
from shared_helpers import SettingsOverride
from sqlmodel import Session

from saas_app.api.deps import authenticate
from saas_app.db import session_scope
from saas_app.models import Tenant, utcnow
from saas_app.services.account import api_keys
from saas_app.services.account import sessions as account_sessions
from saas_app.services.auth import principal_cache
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.principal import Principal
from saas_app.services.auth.sessions import TokenPair, open_api_session
from saas_app.services.core.errors import AuthError, ServiceUnavailable

pytestmark = pytest.mark.db


def _sign_in(email: str = "cache@example.com") -> TokenPair:
    with session_scope() as session:
        return open_api_session(session=session, email=email, ctx=CTX)


def _entry(rc: redis.Redis, credential: str) -> str | None:
    return rc.get(principal_cache.ENTRY_PREFIX + principal_cache.credential_digest(credential))


def _refused(kind: str, credential: str) -> bool:
    try:
        authenticate(kind, credential)
    except AuthError:
        return True
    return False


def _cached_token(rc: redis.Redis) -> TokenPair:
    pair = _sign_in()
    assert authenticate("token", pair.access_token) == pair.principal
    assert _entry(rc, pair.access_token) is not None
    return pair


def _change(action: Callable[[Session], object]) -> None:
    with session_scope() as session:
        action(session)


def test_a_cached_principal_is_answered_without_the_database(redis_client: redis.Redis) -> None:
    pair = _cached_token(redis_client)
    with session_scope() as session:
        session.delete(session.get(Tenant, pair.principal.tenant_id) or pytest.fail("no tenant"))
        session.rollback()  # nothing changed: the entry is still there
    assert _entry(redis_client, pair.access_token) is not None
    seen = principal_cache.lookup(principal_cache.credential_digest(pair.access_token))
    assert seen.principal == pair.principal


def test_sign_out_drops_the_entry_and_the_token_is_refused(redis_client: redis.Redis) -> None:
    pair = _cached_token(redis_client)
    _change(lambda s: auth_sessions.logout_session(session=s, principal=pair.principal, ctx=CTX))
    assert _entry(redis_client, pair.access_token) is None
    assert _refused("token", pair.access_token)


def test_sign_out_everywhere_drops_every_session_of_the_user(redis_client: redis.Redis) -> None:
    first, second = _cached_token(redis_client), _sign_in()
    assert authenticate("token", second.access_token) == second.principal
    _change(lambda s: auth_sessions.logout_all(session=s, principal=first.principal, ctx=CTX))
    assert _entry(redis_client, first.access_token) is None and _entry(redis_client, second.access_token) is None
    assert _refused("token", first.access_token) and _refused("token", second.access_token)


def test_ending_one_session_from_the_account_page_drops_only_that_one(redis_client: redis.Redis) -> None:
    first, second = _cached_token(redis_client), _sign_in()
    assert authenticate("token", second.access_token)
    _change(lambda s: account_sessions.revoke_session(session=s, principal=first.principal,
                                                      session_id=second.principal.session_id, ctx=CTX))
    assert _refused("token", second.access_token)
    assert _entry(redis_client, first.access_token) is not None and not _refused("token", first.access_token)


def _new_key(principal: Principal) -> tuple[str, str]:
    with session_scope() as session:
        key = api_keys.create_api_key(session=session, principal=principal, name="k", ctx=CTX)
    assert authenticate("api_key", key.key).actor == key.prefix
    return key.id, key.key


@pytest.mark.parametrize("how", ["revoke", "rotate"])
def test_revoking_or_rotating_a_key_drops_its_entry(redis_client: redis.Redis, how: str) -> None:
    pair = _cached_token(redis_client)
    key_id, secret = _new_key(pair.principal)
    assert _entry(redis_client, secret) is not None
    if how == "revoke":
        _change(lambda s: api_keys.revoke_api_key(session=s, principal=pair.principal, key_id=key_id, ctx=CTX))
    else:
        _change(lambda s: api_keys.rotate_api_key(session=s, principal=pair.principal, key_id=key_id, ctx=CTX))
    assert _entry(redis_client, secret) is None and _refused("api_key", secret)
    assert _entry(redis_client, pair.access_token) is not None  # the person's own token is not affected


def test_a_plan_change_drops_every_entry_of_the_tenant(redis_client: redis.Redis) -> None:
    pair = _cached_token(redis_client)
    _, secret = _new_key(pair.principal)

    def upgrade(session: Session) -> None:
        tenant = session.get(Tenant, pair.principal.tenant_id)
        assert tenant is not None
        tenant.plan = "pro"
        session.add(tenant)

    _change(upgrade)
    assert _entry(redis_client, pair.access_token) is None and _entry(redis_client, secret) is None
    assert authenticate("token", pair.access_token).plan == "pro"
    assert authenticate("api_key", secret).plan == "pro"


def test_deletion_drops_every_entry_of_its_users(redis_client: redis.Redis) -> None:
    pair = _cached_token(redis_client)
    _, secret = _new_key(pair.principal)
    auth_sessions.forget_users(user_ids=[pair.principal.user_id], session_ids=[pair.principal.session_id])
    assert _entry(redis_client, pair.access_token) is None and _entry(redis_client, secret) is None


def test_a_read_that_raced_an_invalidation_is_not_stored(redis_client: redis.Redis) -> None:
    pair = _sign_in()
    digest = principal_cache.credential_digest(pair.access_token)
    seen = principal_cache.lookup(digest)  # a request misses, then reads the database ...
    with session_scope() as session:  # ... while a sign-out is flushed but not yet committed
        auth_sessions.logout_session(session=session, principal=pair.principal, ctx=CTX)
        session.flush()
        assert not principal_cache.store(digest, pair.principal, seen=seen, ttl_seconds=60,
                                         scopes=[principal_cache.session_scope_of(pair.principal.session_id)])
        fresh = principal_cache.lookup(digest)
        assert not principal_cache.store(digest, pair.principal, seen=fresh, ttl_seconds=60, scopes=[])
    assert redis_client.zcard(principal_cache.IN_PROGRESS_KEY) == 0  # the commit ended it
    assert _entry(redis_client, pair.access_token) is None and _refused("token", pair.access_token)


def test_a_change_is_refused_when_the_cache_cannot_be_cleared(redis_client: redis.Redis,
                                                              app_settings: SettingsOverride) -> None:
    pair = _sign_in()
    app_settings.set(REDIS_URL="redis://127.0.0.1:1/15")
    with pytest.raises(ServiceUnavailable), session_scope() as session:
        auth_sessions.logout_session(session=session, principal=pair.principal, ctx=CTX)
    app_settings.restore()
    assert not _refused("token", pair.access_token)  # nothing was revoked


def test_the_entry_lives_no_longer_than_a_plan_grace_period(redis_client: redis.Redis) -> None:
    pair = _sign_in()
    with session_scope() as session:
        tenant = session.get(Tenant, pair.principal.tenant_id)
        assert tenant is not None
        tenant.plan, tenant.plan_grace_until = "pro", utcnow() + timedelta(seconds=20)
        session.add(tenant)
    authenticate("token", pair.access_token)
    ttl = redis_client.ttl(principal_cache.ENTRY_PREFIX + principal_cache.credential_digest(pair.access_token))
    assert 0 < ttl <= 20


def test_an_unreadable_entry_is_a_miss_and_is_replaced(redis_client: redis.Redis) -> None:
    pair = _sign_in()
    key = principal_cache.ENTRY_PREFIX + principal_cache.credential_digest(pair.access_token)
    redis_client.set(key, '{"user_id": "someone else"}')
    assert authenticate("token", pair.access_token) == pair.principal
    assert principal_cache.lookup(principal_cache.credential_digest(pair.access_token)).principal == pair.principal
