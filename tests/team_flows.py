"""Team flows for tests: invitations read from the real SMTP catcher, joining over HTTP or the services."""

from __future__ import annotations

import re
from email.message import EmailMessage
from urllib.parse import unquote

import redis
from factories import CTX, bearer, clear_rate_limits, emails_to, newest_email, sign_in_api, text_part
from fastapi.testclient import TestClient
from sqlmodel import Session

from saas_app.dev.mailcatcher import MailCatcher
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.principal import Principal

INVITE_RE = re.compile(r"(https?://\S+/invite\?token=([A-Za-z0-9_\-%]+))")


def invite_token(message: EmailMessage) -> str:
    """The token of the invitation link in an email's text part."""
    text = text_part(message)
    found = INVITE_RE.search(text)
    assert found, f"no invitation link in the email text:\n{text}"
    return unquote(found.group(2))


def invite_api(api: TestClient, headers: dict, smtp: MailCatcher, email: str, role: str = "member") -> str:
    """POST /api/team/invitations (asserting 201) and return the token from the email that arrived."""
    before = emails_to(smtp, email)
    response = api.post("/api/team/invitations", json={"email": email, "role": role}, headers=headers)
    assert response.status_code == 201, response.text
    return invite_token(newest_email(smtp, email, before))


def join_api(api: TestClient, owner_headers: dict, smtp: MailCatcher, client: redis.Redis, email: str,
             role: str = "member") -> tuple[dict[str, str], dict]:
    """Invite `email`, sign them in over HTTP and accept: (their headers in the workspace, `/me` there)."""
    token = invite_api(api, owner_headers, smtp, email, role)
    tokens = sign_in_api_fresh(api, smtp, client, email)
    accepted = api.post(f"/api/invitations/{token}/accept", headers=bearer(tokens["access_token"]))
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    return bearer(body["tokens"]["access_token"]), body["user"]


def sign_in_api_fresh(api: TestClient, smtp: MailCatcher, client: redis.Redis, email: str) -> dict:
    """A full HTTP sign-in past the per-address email limit: the token response."""
    clear_rate_limits(client)
    return sign_in_api(api, smtp, email)


def signed_in(session: Session, email: str) -> Principal:
    """An API session for `email` opened through the services (committed): its principal."""
    pair = auth_sessions.open_api_session(session=session, email=email, ctx=CTX)
    session.commit()
    return pair.principal
