"""JSON Web Tokens after RFC 8725: HS256 pinned, every registered claim checked.

Access and refresh tokens differ by the `typ` claim, so one can never pass as the other.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass

import jwt

from saas_app.services.core.errors import AuthError
from saas_app.settings import get_settings

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
_REQUIRED = ["iss", "aud", "sub", "exp", "iat", "jti", "typ"]


@dataclass(frozen=True)
class TokenClaims:
    """The verified claims of a token."""

    user_id: str
    tenant_id: str
    session_id: str
    jti: str
    issued_at: float  # seconds with millisecond precision (RFC 7519 NumericDate may be fractional)
    expires_at: int
    typ: str


def sha256_hex(value: str) -> str:
    """Hex SHA-256 of a string (how secrets are stored at rest)."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret_token(nbytes: int = 32) -> str:
    """A URL-safe random token of `nbytes` random bytes."""
    return secrets.token_urlsafe(nbytes)


def floor_ms(seconds: float) -> float:
    """Seconds truncated to whole milliseconds (how `iat` and sign-out cutoffs are compared)."""
    return math.floor(seconds * 1000) / 1000


def encode_token(*, typ: str, user_id: str, tenant_id: str, session_id: str) -> tuple[str, TokenClaims]:
    """Sign a token of type `access` or `refresh` for a session.

    Returns:
        The compact JWT and its claims.
    """
    settings = get_settings()
    issued = floor_ms(time.time())
    now = int(issued)
    lifetime = (
        settings.JWT_EXPIRE_HOURS * 3600 if typ == ACCESS else settings.REFRESH_EXPIRE_DAYS * 86400
    )
    claims = TokenClaims(
        user_id=user_id, tenant_id=tenant_id, session_id=session_id,
        jti=secrets.token_hex(16), issued_at=issued, expires_at=now + lifetime, typ=typ,
    )
    payload = {
        "iss": settings.JWT_ISSUER, "aud": settings.JWT_AUDIENCE, "sub": user_id,
        "iat": issued, "exp": claims.expires_at, "jti": claims.jti, "typ": typ,
        "tid": tenant_id, "sid": session_id,
    }
    token = jwt.encode(payload, settings.JWT_SECRET, algorithm=ALGORITHM, headers={"typ": "JWT"})
    return token, claims


def decode_token(token: str, *, expected_typ: str) -> TokenClaims:
    """Verify signature, algorithm, issuer, audience, times and type.

    Raises:
        AuthError: For any token that is not a valid token of `expected_typ`.
    """
    settings = get_settings()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise AuthError("Invalid token.")
        payload = jwt.decode(
            token, settings.JWT_SECRET, algorithms=[ALGORITHM],
            audience=settings.JWT_AUDIENCE, issuer=settings.JWT_ISSUER,
            options={"require": _REQUIRED}, leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("Your session has expired. Please sign in again.") from exc
    except jwt.PyJWTError as exc:
        raise AuthError("Invalid token.") from exc
    if payload.get("typ") != expected_typ or not payload.get("sid") or not payload.get("tid"):
        raise AuthError("Invalid token.")
    return TokenClaims(
        user_id=str(payload["sub"]), tenant_id=str(payload["tid"]),
        session_id=str(payload["sid"]), jti=str(payload["jti"]),
        issued_at=float(payload["iat"]), expires_at=int(payload["exp"]), typ=expected_typ,
    )
