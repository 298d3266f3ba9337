"""The verified-principal cache: one Redis round trip authenticates a known credential.

An entry maps the SHA-256 of a credential (access token, API key, session cookie) to the
principal it proved (user, session, tenant, plan). It is read with the cache's generation
in one `MGET`; a miss is verified against the database (the authority) and stored again.

Entries die exactly when what they prove changes. Every entry is listed under its scopes
(`session:<id>`, `user:<id>`, `tenant:<id>`, `key:<prefix>`), and a change to a row a
principal is made of (a session revoked, a user signed out everywhere or deleted, a plan
changed, a key revoked) drops its scopes' entries *before* the change is committed; a
failure to do so fails the change (`ServiceUnavailable`), so no revocation is answered
while a cached principal still works. A request that read the database before such a
commit must not store what it read: each invalidation bumps the generation and records
itself as in progress until its transaction ends, and a store only happens when the
generation is unchanged and nothing is in progress (one Lua script, atomic).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

import redis
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from saas_app.models import ApiKey, AuthSession, Membership, Tenant, User
from saas_app.services.auth.principal import Principal
from saas_app.services.core.errors import ServiceUnavailable
from saas_app.services.core.redis_client import get_redis
from saas_app.settings import get_settings

log = logging.getLogger(__name__)

ENTRY_PREFIX = "auth:p:"
INDEX_PREFIX = "auth:idx:"
GENERATION_KEY = "auth:gen"
IN_PROGRESS_KEY = "auth:revoking"  # sorted set: invalidation id -> when it stops counting (epoch s)
IN_PROGRESS_SECONDS = 30  # an invalidation whose end was never recorded stops blocking stores after this
_PENDING = "principal_cache_pending"  # Session.info key: invalidations of this transaction

_STORE = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
if redis.call('ZCARD', KEYS[3]) > 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
for i = 5, #ARGV do
  redis.call('SADD', ARGV[i], KEYS[1])
  redis.call('EXPIRE', ARGV[i], ARGV[3], 'GT')
  if redis.call('TTL', ARGV[i]) < 0 then redis.call('EXPIRE', ARGV[i], ARGV[3]) end
end
return 1
"""

_INVALIDATE = """
redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
for i = 4, #ARGV do
  for _, key in ipairs(redis.call('SMEMBERS', ARGV[i])) do
    local raw = redis.call('GET', key)
    if raw then
      local ok, entry = pcall(cjson.decode, raw)
      if ok and type(entry) == 'table' and type(entry['s']) == 'table' then
        for _, index in ipairs(entry['s']) do
          redis.call('SREM', index, key)
          if redis.call('SCARD', index) == 0 then redis.call('DEL', index) end
        end
      end
      redis.call('DEL', key)
    end
  end
  redis.call('DEL', ARGV[i])
end
return 1
"""


@dataclass(frozen=True)
class Lookup:
    """What the cache knows of a credential: the principal (or None) and the generation read with it."""

    principal: Principal | None
    generation: str | None  # None: Redis did not answer (then nothing is stored either)


def credential_digest(credential: str) -> str:
    """The cache's name for a credential (its SHA-256; the credential itself is never stored)."""
    return hashlib.sha256(credential.encode()).hexdigest()


def session_scope_of(session_id: str) -> str:
    """The scope of every entry that a session proves."""
    return f"session:{session_id}"


def user_scope_of(user_id: str) -> str:
    """The scope of every entry of a user."""
    return f"user:{user_id}"


def tenant_scope_of(tenant_id: str) -> str:
    """The scope of every entry of a tenant (its plan is in each)."""
    return f"tenant:{tenant_id}"


def key_scope_of(prefix: str) -> str:
    """The scope of an API key's entry."""
    return f"key:{prefix}"


def lookup(digest: str) -> Lookup:
    """The cached principal of a credential digest, in one round trip (a miss when Redis is down)."""
    try:
        raw, generation = cast(list[str | None], get_redis().mget([ENTRY_PREFIX + digest, GENERATION_KEY]))
    except redis.RedisError as exc:
        log.warning("principal cache read failed: %s", exc)
        return Lookup(principal=None, generation=None)
    return Lookup(principal=_parse(raw) if raw else None, generation=generation or "")


def _parse(raw: str) -> Principal | None:
    try:
        return Principal(**json.loads(raw)["p"])
    except (ValueError, KeyError, TypeError):  # not an entry this code wrote: a miss
        log.warning("principal cache: unreadable entry ignored")
        return None


def store(digest: str, principal: Principal, *, seen: Lookup, ttl_seconds: float, scopes: list[str]) -> bool:
    """Cache a principal just verified against the database, unless an invalidation ran meanwhile.

    Args:
        seen: The miss returned by `lookup` before the database was read.
        ttl_seconds: How long the proof holds at most (capped by `AUTH_CACHE_TTL_SECONDS`).
        scopes: The scopes whose invalidation must drop this entry.

    Returns:
        Whether it was stored (never raises: the database stays the authority).
    """
    ttl = int(min(ttl_seconds, get_settings().AUTH_CACHE_TTL_SECONDS))
    if seen.generation is None or ttl < 1:
        return False
    indexes = [INDEX_PREFIX + s for s in scopes]
    value = json.dumps({"p": asdict(principal), "s": indexes})  # `s`: the invalidation leaves no index behind
    try:
        stored = get_redis().eval(_STORE, 3, ENTRY_PREFIX + digest, GENERATION_KEY, IN_PROGRESS_KEY,
                                  seen.generation, value, ttl, time.time(), *indexes)
    except redis.RedisError as exc:
        log.warning("principal cache write failed: %s", exc)
        return False
    return bool(stored)


def invalidate(scopes: list[str], *, session: Session | None = None) -> None:
    """Drop every cached principal of `scopes` now, and keep stores off until `session`'s
    transaction ends (without a session: for `IN_PROGRESS_SECONDS`).

    Raises:
        ServiceUnavailable: Redis did not answer; the caller's change must not be committed.
    """
    if not scopes:
        return
    marker = secrets.token_hex(8)
    try:
        get_redis().eval(_INVALIDATE, 2, GENERATION_KEY, IN_PROGRESS_KEY, marker,
                         time.time() + IN_PROGRESS_SECONDS, IN_PROGRESS_SECONDS * 2,
                         *[INDEX_PREFIX + s for s in sorted(set(scopes))])
    except redis.RedisError as exc:
        log.warning("principal cache invalidation failed: %s", exc)
        raise ServiceUnavailable("We could not sign that out right now; nothing was changed. "
                                 "Please try again in a moment.") from exc
    if session is not None:
        session.info.setdefault(_PENDING, []).append(marker)


def _finished(session: Session) -> None:
    markers = session.info.pop(_PENDING, None)
    if not markers:
        return
    try:
        get_redis().zrem(IN_PROGRESS_KEY, *markers)
    except redis.RedisError as exc:  # they stop counting after IN_PROGRESS_SECONDS anyway
        log.warning("principal cache: could not end invalidations: %s", exc)


def _changed(obj: Any, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def scopes_changed_by(dirty: list[Any], deleted: list[Any]) -> list[str]:
    """The scopes whose principals these pending row changes alter (a plan, a revocation, a deletion)."""
    watched: dict[type, tuple[Callable[[str], str], tuple[str, ...], str]] = {
        Tenant: (tenant_scope_of, ("plan", "plan_grace_until"), "id"),
        User: (user_scope_of, ("email", "tokens_valid_after"), "id"),
        Membership: (user_scope_of, ("role", "tenant_id", "user_id"), "user_id"),
        AuthSession: (session_scope_of, ("revoked_at", "expires_at", "user_id", "tenant_id"), "id"),
        ApiKey: (key_scope_of, ("revoked_at", "key_hash", "user_id", "tenant_id"), "prefix"),
    }
    scopes: list[str] = []
    for objs, is_deleted in ((dirty, False), (deleted, True)):
        for obj in objs:
            spec = watched.get(type(obj))
            if spec is not None and (is_deleted or _changed(obj, *spec[1])):
                scopes.append(spec[0](getattr(obj, spec[2])))
    return scopes


def _before_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    invalidate(scopes_changed_by(list(session.dirty), list(session.deleted)), session=session)


def _transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed or rolled back
        _finished(session)


event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "after_transaction_end", _transaction_end)
