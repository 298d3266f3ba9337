"""API keys: shown once, stored as a hash, listed by prefix, rotated and revoked at once.

A key looks like `nsk_<8-char id>_<secret>`; the `nsk_<id>` prefix is stored in clear to
find the row, the whole key only as SHA-256.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from sqlmodel import Session, col, select

from saas_app.models import ApiKey, Tenant, User, utcnow
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.account.views import ApiKeyView, NewKey
from saas_app.services.auth import principal_cache
from saas_app.services.auth.principal import Principal, principal_for, proof_lifetime
from saas_app.services.auth.tokens import sha256_hex
from saas_app.services.core.errors import AuthError, InvalidInput, NotFound
from saas_app.services.core.validation import clean_text
from saas_app.services.teams.memberships import get_membership
from saas_app.services.teams.permissions import Action, require

KEY_PREFIX = "nsk_"
MAX_KEYS = 20
DEFAULT_KEY_NAME = "Default key"


def looks_like_api_key(value: str) -> bool:
    """Whether a credential has the API key shape (not a JWT)."""
    return value.startswith(KEY_PREFIX) and value.count("_") >= 2


def _mint(session: Session, principal: Principal, name: str, is_default: bool) -> NewKey:
    key_id = secrets.token_hex(4)
    prefix = f"{KEY_PREFIX}{key_id}"
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(tenant_id=principal.tenant_id, user_id=principal.user_id, name=name, prefix=prefix,
                 key_hash=sha256_hex(secret), is_default=is_default)
    session.add(row)
    session.flush()
    return NewKey(id=row.id, name=name, prefix=prefix, key=secret)


def _active(session: Session, tenant_id: str) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.tenant_id == tenant_id, col(ApiKey.revoked_at).is_(None))
                             .order_by(col(ApiKey.created_at).desc())).all())


def create_api_key(*, session: Session, principal: Principal, name: str, ctx: RequestContext) -> NewKey:
    """Make a named key for the tenant.

    Raises:
        Forbidden: The caller's role may not manage API keys.
        InvalidInput: Empty, invisible, long or control-character name, or too many keys.
    """
    require(principal, Action.API_KEYS_MANAGE)
    try:
        name = clean_text(name or "")
    except ValueError as exc:
        raise InvalidInput(f"The key name {exc}.", field="name") from exc
    if not name or len(name) > 80:
        raise InvalidInput("Give the key a name of 1 to 80 characters.", field="name")
    if len(_active(session, principal.tenant_id)) >= MAX_KEYS:
        raise InvalidInput(f"A workspace can have at most {MAX_KEYS} keys; revoke one first.", field="name")
    key = _mint(session, principal, name, is_default=False)
    record_event(session=session, action="api_key.created", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=key.prefix)
    return key


def list_api_keys(*, session: Session, principal: Principal) -> list[ApiKeyView]:
    """The caller's workspace's active keys, newest first (prefixes only, never secrets).

    Raises:
        Forbidden: The caller's role may not manage API keys.
    """
    require(principal, Action.API_KEYS_MANAGE)
    return [ApiKeyView.model_validate(row) for row in _active(session, principal.tenant_id)]


def _get_key_or_raise(session: Session, tenant_id: str, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id) if key_id and len(key_id) <= 32 else None
    if row is None or row.tenant_id != tenant_id or row.revoked_at is not None:
        raise NotFound("We couldn't find that key.")
    return row


def revoke_api_key(*, session: Session, principal: Principal, key_id: str, ctx: RequestContext) -> None:
    """Revoke a key; it stops working at once.

    Raises:
        Forbidden: The caller's role may not manage API keys.
        NotFound: No such active key in the caller's workspace.
    """
    require(principal, Action.API_KEYS_MANAGE)
    row = _get_key_or_raise(session, principal.tenant_id, key_id)
    row.revoked_at = utcnow()
    session.add(row)
    record_event(session=session, action="api_key.revoked", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=row.prefix)


def rotate_api_key(*, session: Session, principal: Principal, key_id: str | None, ctx: RequestContext) -> NewKey:
    """Replace a key (or the default key when `key_id` is None) with a new secret; the old one dies now.

    Raises:
        Forbidden: The caller's role may not manage API keys.
        NotFound: No such active key in the caller's workspace.
    """
    require(principal, Action.API_KEYS_MANAGE)
    if key_id is None:
        old = next((k for k in _active(session, principal.tenant_id) if k.is_default), None)
    else:
        old = _get_key_or_raise(session, principal.tenant_id, key_id)
    if old is not None:
        old.revoked_at = utcnow()
        session.add(old)
    key = _mint(session, principal, old.name if old else DEFAULT_KEY_NAME, is_default=old is None or old.is_default)
    record_event(session=session, action="api_key.rotated", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=key.prefix,
                 details={"replaced": old.prefix if old else None})
    return key


def authenticate_api_key(*, session: Session, secret: str) -> Principal:
    """The principal of a valid, unrevoked key (scoped to its tenant); cached like access tokens.

    Raises:
        AuthError: Unknown, malformed or revoked key.
    """
    prefix = "_".join(secret.split("_", 2)[:2]) if looks_like_api_key(secret) else ""
    digest = principal_cache.credential_digest(secret)
    seen = principal_cache.lookup(digest) if prefix else None
    if seen is not None and seen.principal is not None:
        return seen.principal
    row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first() if prefix else None
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, sha256_hex(secret)):
        raise AuthError("This API key is not valid. Create or rotate a key on the account page.")
    user, tenant = session.get(User, row.user_id), session.get(Tenant, row.tenant_id)
    membership = get_membership(session=session, tenant_id=row.tenant_id, user_id=row.user_id)
    if user is None or tenant is None or membership is None:
        raise AuthError("This API key is not valid. Create or rotate a key on the account page.")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
        session.add(row)
    principal = principal_for(user, tenant, membership, "", via="api_key", actor=row.prefix)
    if seen is not None:
        principal_cache.store(digest, principal, seen=seen, ttl_seconds=proof_lifetime(tenant),
                              scopes=[principal_cache.key_scope_of(row.prefix), principal_cache.user_scope_of(user.id),
                                      principal_cache.tenant_scope_of(tenant.id)])
    return principal
