"""Magic links: request (rate limited, emailed), peek, and consume exactly once.

A link carries a 32-byte random token and a 6-digit code. Only hashes are stored; a
newer request voids older links for the same address; consuming is one atomic UPDATE.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import case, update
from sqlmodel import Session, col, select

from saas_app import routes
from saas_app.models import MagicLink, User, utcnow
from saas_app.services.account.audit import RequestContext, get_purged_at, record_event
from saas_app.services.auth.tokens import new_secret_token, sha256_hex
from saas_app.services.core import observability
from saas_app.services.core.errors import AuthError, InvalidInput, RateLimited, ServiceUnavailable
from saas_app.services.core.mail import send_email
from saas_app.services.core.rate_limit import Limit, Window, check_limits, ensure_windows, refund_limits
from saas_app.services.teams.memberships import latest_membership
from saas_app.settings import get_settings

MAX_CODE_ATTEMPTS = 5
LINK_INVALID = "This sign-in link has expired or was already used. Request a new one."
CODE_INVALID = "That code is not right or has expired. Check the latest email, or request a new code."


MAX_LOCAL_PART_OCTETS = 64  # RFC 5321, 4.5.3.1.1


def normalize_email(raw: str) -> str:
    """Validate an address and return its one canonical form: the identity and where mail goes.

    An international domain is kept in its ASCII (IDNA) form, so `qa@bücher.example` and
    `qa@xn--bcher-kva.example` are one person, and mail reaches relays without SMTPUTF8.
    Only a non-ASCII local part (which needs SMTPUTF8 anyway) stays in Unicode (NFC).
    The whole address is lower-case.

    Raises:
        InvalidInput: With a readable reason (field `email`).
    """
    raw = (raw or "").strip()
    if not raw:
        raise InvalidInput("Enter your email address.", field="email")
    try:
        info = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"That email address is not valid: {exc}", field="email") from exc
    if len(info.local_part.encode()) > MAX_LOCAL_PART_OCTETS:
        raise InvalidInput("That email address is not valid: the part before the @ is longer than "
                           f"{MAX_LOCAL_PART_OCTETS} characters.", field="email")
    return (info.ascii_email or info.normalized).lower()


def safe_next_path(raw: str | None) -> str:
    """Keep only same-site relative paths (no open redirects)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return routes.CREATE
    if raw.startswith(routes.NO_RETURN_PREFIXES):
        return routes.CREATE
    return raw[:500]


def _code_hash(*, token_hash: str, code: str) -> str:
    key = get_settings().JWT_SECRET.encode()
    return hmac.new(key, f"{token_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def _email_bodies(*, link: str, code: str, ttl: int) -> tuple[str, str]:
    text = (
        f"Sign in to Narrated Studio\n\nOpen this link to sign in:\n{link}\n\n"
        f"Or enter this code on the sign-in page: {code}\n\n"
        f"The link and code expire in {ttl} minutes and work once.\n"
        "If you did not ask to sign in, ignore this email.\n"
    )
    safe_link = html.escape(link, quote=True)
    body = (
        "<!doctype html><html><body style=\"font-family:sans-serif;color:#1f1f2e\">"
        "<h2>Sign in to Narrated Studio</h2>"
        f"<p><a href=\"{safe_link}\" style=\"background:#6d28d9;color:#fff;padding:10px 16px;"
        "border-radius:6px;text-decoration:none\">Sign in</a></p>"
        f"<p>Or enter this code on the sign-in page: <strong style=\"font-size:20px;"
        f"letter-spacing:3px\">{code}</strong></p>"
        f"<p>The link and code expire in {ttl} minutes and work once. "
        "If you did not ask to sign in, ignore this email.</p></body></html>"
    )
    return text, body


def _limits(address: str, ip: str) -> list[Limit]:
    settings = get_settings()
    return [
        Limit(f"ml:ip:{ip}:h", settings.RATE_IP_PER_HOUR, 3600),
        Limit(f"ml:em:{sha256_hex(address)}:m", settings.RATE_EMAIL_PER_MINUTE, 60),
        Limit(f"ml:em:{sha256_hex(address)}:h", settings.RATE_EMAIL_PER_HOUR, 3600),
    ]


def _restored_windows(session: Session) -> list[Window]:
    """The sign-in email windows as the links requested in the last hour fill them (used after
    Redis lost its data, so the limits that guard email never restart from zero)."""
    now = utcnow()
    found: dict[str, tuple[Limit, int, float]] = {}  # key: (limit, hits, age of the oldest hit in s)
    rows = session.exec(select(MagicLink.email, MagicLink.request_ip, MagicLink.created_at)
                        .where(col(MagicLink.created_at) > now - timedelta(hours=1))).all()
    for address, ip, created_at in rows:
        age = (now - created_at.replace(tzinfo=created_at.tzinfo or UTC)).total_seconds()
        for limit in _limits(address, ip):
            if age < limit.window:
                _, hits, oldest = found.get(limit.key, (limit, 0, age))
                found[limit.key] = (limit, hits + 1, max(oldest, age))
    return [Window(key=key, hits=hits, ttl=int(limit.window - oldest) + 1)
            for key, (limit, hits, oldest) in found.items()]


def request_magic_link(*, session: Session, email: str, next_path: str | None, ctx: RequestContext) -> None:
    """Email a sign-in link and code to `email` (same outcome whether or not it has an account).

    Raises:
        InvalidInput: Bad address.
        RateLimited: Over one email per minute or five per hour for the address, or
            twenty requests per hour from the IP.
        ServiceUnavailable: Redis or SMTP is down (nothing is stored, no limit used up).
    """
    try:
        address = normalize_email(email)
    except InvalidInput:
        observability.count_sign_in_request("invalid")
        raise
    ensure_windows(restore=lambda: _restored_windows(session))
    limits = _limits(address, ctx.ip)
    try:
        check_limits(limits=limits, message="Too many sign-in emails. Please wait before asking again.",
                     rule="sign_in_email")
    except RateLimited:
        observability.count_sign_in_request("rate_limited")
        raise
    try:
        _store_and_send(session, address=address, next_path=next_path, ctx=ctx)
    except Exception as exc:
        refund_limits(limits=limits)  # nothing was sent: the attempt must not use up the person's limits
        if isinstance(exc, ServiceUnavailable):
            observability.count_sign_in_request("mail_failed")
        raise
    observability.count_sign_in_request("sent")


def _store_and_send(session: Session, *, address: str, next_path: str | None, ctx: RequestContext) -> None:
    settings = get_settings()
    now = utcnow()
    session.exec(
        update(MagicLink)
        .where(col(MagicLink.email) == address, col(MagicLink.consumed_at).is_(None))
        .values(consumed_at=now)
    )
    token = new_secret_token(32)
    code = f"{secrets.randbelow(1_000_000):06d}"
    token_hash = sha256_hex(token)
    ttl = settings.MAGIC_LINK_TTL_MINUTES
    session.add(MagicLink(
        email=address, token_hash=token_hash, code_hash=_code_hash(token_hash=token_hash, code=code),
        next_path=safe_next_path(next_path), expires_at=now + timedelta(minutes=ttl), request_ip=ctx.ip,
    ))
    user = session.exec(select(User).where(User.email == address)).first()
    record_event(
        session=session, action="auth.link_requested", ctx=ctx, actor=address,
        tenant_id=_home_tenant_id(session, user), user_id=user.id if user else None,
    )
    session.flush()
    link = routes.absolute(routes.verify_link(token))
    text, body = _email_bodies(link=link, code=code, ttl=ttl)
    send_email(to=address, subject=f"Your sign-in link (code {code})", text=text, html=body)


def _home_tenant_id(session: Session, user: User | None) -> str | None:
    """The workspace whose activity log shows this person's sign-in requests (where they sign in)."""
    membership = latest_membership(session=session, user_id=user.id) if user else None
    return membership.tenant_id if membership else None


def _active_link_by_token(session: Session, token: str) -> MagicLink | None:
    if not token or len(token) > 200:
        return None
    link = session.exec(select(MagicLink).where(MagicLink.token_hash == sha256_hex(token))).first()
    if link is None or link.consumed_at is not None or link.expires_at <= utcnow():
        return None
    return link


def peek_magic_link(*, session: Session, token: str) -> str | None:
    """The address a still-valid link signs in, without consuming it (for the confirm page)."""
    link = _active_link_by_token(session, token)
    return link.email if link else None


class LinkState(StrEnum):
    """What the confirm page says about a sign-in link."""

    VALID = "valid"
    USED = "used"  # consumed, or replaced by a newer link
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LinkCheck:
    """A sign-in link as the confirm page sees it: its state and the address it was for ("" if unknown)."""

    state: LinkState
    email: str
    deleted_on: datetime | None = None  # this address had a workspace that was deleted then (a new one starts)


def check_magic_link(*, session: Session, token: str) -> LinkCheck:
    """Tell a valid link from a used, an expired and an unknown one, without consuming it.

    Returns:
        The link's state and address, so a page can offer a new link to the same address.
    """
    if not token or len(token) > 200:
        return LinkCheck(LinkState.UNKNOWN, "")
    link = session.exec(select(MagicLink).where(MagicLink.token_hash == sha256_hex(token))).first()
    if link is None:
        return LinkCheck(LinkState.UNKNOWN, "")
    if link.consumed_at is not None:
        return LinkCheck(LinkState.USED, link.email)
    if link.expires_at <= utcnow():
        return LinkCheck(LinkState.EXPIRED, link.email)
    known = session.exec(select(User.id).where(User.email == link.email)).first() is not None
    return LinkCheck(LinkState.VALID, link.email, None if known else get_purged_at(session=session, email=link.email))


def _consume(session: Session, link_id: str) -> bool:
    now = utcnow()
    result = session.exec(
        update(MagicLink)
        .where(col(MagicLink.id) == link_id, col(MagicLink.consumed_at).is_(None), col(MagicLink.expires_at) > now)
        .values(consumed_at=now)
    )
    return result.rowcount == 1


def consume_link_token(*, session: Session, token: str) -> MagicLink:
    """Consume a link by its token, exactly once.

    Raises:
        AuthError: Unknown, expired, superseded or already used.
    """
    link = _active_link_by_token(session, token)
    ok = link is not None and _consume(session, link.id)
    observability.count_sign_in_verification(method="link", ok=ok)
    if link is None or not ok:
        raise AuthError(LINK_INVALID, code="link_invalid")
    return link


def consume_link_code(*, session: Session, email: str, code: str) -> MagicLink:
    """Consume the newest link for `email` by its 6-digit code; five wrong codes void it.

    Raises:
        InvalidInput: The code is not six digits.
        AuthError: Wrong, expired or voided code.
    """
    try:
        link = _consume_code(session=session, email=email, code=code)
    except (AuthError, InvalidInput):
        observability.count_sign_in_verification(method="code", ok=False)
        raise
    observability.count_sign_in_verification(method="code", ok=True)
    return link


def _consume_code(*, session: Session, email: str, code: str) -> MagicLink:
    address = normalize_email(email)
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        raise InvalidInput("Enter the 6-digit code from the email.", field="code")
    link = session.exec(
        select(MagicLink)
        .where(MagicLink.email == address, col(MagicLink.consumed_at).is_(None), MagicLink.expires_at > utcnow())
        .order_by(col(MagicLink.created_at).desc())
    ).first()
    if link is None:
        raise AuthError(CODE_INVALID, code="code_invalid")
    if hmac.compare_digest(link.code_hash, _code_hash(token_hash=link.token_hash, code=code)):
        if _consume(session, link.id):
            return link
        raise AuthError(CODE_INVALID, code="code_invalid")
    attempts = col(MagicLink.failed_attempts) + 1
    session.exec(
        update(MagicLink)
        .where(col(MagicLink.id) == link.id, col(MagicLink.consumed_at).is_(None))
        .values(
            failed_attempts=attempts,
            consumed_at=case((attempts >= MAX_CODE_ATTEMPTS, utcnow()), else_=None),
        )
    )
    session.commit()  # the failed attempt must count even though we raise
    raise AuthError(CODE_INVALID, code="code_invalid")
