"""Factories and flows for tests: real rows, real email, real HTTP. No mocks of our code."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import time
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any
from urllib.parse import unquote

import jwt
import redis
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import Membership, Tenant, User
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth import magic_links
from saas_app.services.core import rate_limit
from saas_app.services.usage.plans import default_plan_id
from saas_app.settings import get_settings

LINK_RE = re.compile(r"(https?://\S+/auth/verify\?token=([A-Za-z0-9_\-%]+))")
CTX = RequestContext(ip="203.0.113.7", user_agent="pytest-agent/1.0", request_id="req1")


def make_tenant(session: Session, **overrides: Any) -> Tenant:
    """A committed tenant."""
    values: dict[str, Any] = {"name": f"Tenant {secrets.token_hex(3)}", "plan": default_plan_id()}
    values.update(overrides)
    tenant = Tenant(**values)
    session.add(tenant)
    session.commit()
    session.refresh(tenant)
    return tenant


def make_user(session: Session, tenant: Tenant | None = None, *, role: str = "owner", **overrides: Any) -> User:
    """A committed user, a member with `role` of `tenant` (a new workspace unless one is given)."""
    tenant = tenant or make_tenant(session)
    values: dict[str, Any] = {"email": f"user-{secrets.token_hex(4)}@example.com"}
    values.update(overrides)
    user = User(**values)
    session.add(user)
    session.flush()
    session.add(Membership(tenant_id=tenant.id, user_id=user.id, role=role))
    session.commit()
    session.refresh(user)
    return user


def tenant_id_of(user: User) -> str:
    """The workspace `user` was most recently active in (the only one, for users `make_user` made)."""
    with Session(get_engine()) as session:
        membership = session.exec(select(Membership).where(Membership.user_id == user.id)
                                  .order_by(col(Membership.last_active_at).desc())).first()
        assert membership is not None, f"{user.email} belongs to no workspace"
        return membership.tenant_id


def role_of(user: User, tenant_id: str | None = None) -> str:
    """The user's role in a workspace (their most recent one by default)."""
    with Session(get_engine()) as session:
        wanted = tenant_id or tenant_id_of(user)
        membership = session.exec(select(Membership).where(Membership.user_id == user.id,
                                                           Membership.tenant_id == wanted)).one()
        return membership.role


# Email


def text_part(message: EmailMessage) -> str:
    """The plain-text body of a message."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the email has no text/plain part"
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    """The HTML body of a message."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "the email has no text/html part"
    return str(part.get_content())


def link_and_code(message: EmailMessage) -> tuple[str, str, str]:
    """(link, token, code) from the text part of a sign-in email."""
    text = text_part(message)
    found = LINK_RE.search(text)
    assert found, f"no sign-in link in the email text:\n{text}"
    code = re.search(r"code[^\d]*(\d{6})\b", text)
    assert code, f"no 6-digit code in the email text:\n{text}"
    return found.group(1), unquote(found.group(2)), code.group(1)


def emails_to(smtp: MailCatcher, email: str) -> int:
    """How many messages the SMTP server holds for `email`."""
    address = email.strip().lower()
    return sum(1 for m in smtp.messages()
               if address in {a.lower() for _, a in getaddresses([str(m.get("To", ""))])})


def newest_email(smtp: MailCatcher, email: str, before: int) -> EmailMessage:
    """The message to `email` that arrived after `before` earlier ones."""
    return smtp.wait_for(email, timeout=5, count=before + 1)


def clear_rate_limits(client: redis.Redis) -> None:
    """Forget every rate-limit counter (stands in for time passing), also those the app would
    rebuild from the sign-in links in the database after Redis lost its data."""
    keys = list(client.scan_iter("rl:*"))
    if keys:
        client.delete(*keys)
    client.set(rate_limit.RESTORED_KEY, "1")


def request_link(session: Session, smtp: MailCatcher, email: str, ctx: RequestContext = CTX,
                 next_path: str | None = None) -> tuple[str, str]:
    """Request a magic link through the service and return (token, code) from the email."""
    before = emails_to(smtp, email)
    magic_links.request_magic_link(session=session, email=email, next_path=next_path, ctx=ctx)
    session.commit()
    _, token, code = link_and_code(newest_email(smtp, email, before))
    return token, code


def sign_in_api(api: TestClient, smtp: MailCatcher, email: str, headers: dict | None = None) -> dict:
    """The full sign-in over HTTP: request a link, read the email, verify the token."""
    before = emails_to(smtp, email)
    response = api.post("/api/auth/magic-link/request", json={"email": email}, headers=headers)
    assert response.status_code == 202, response.text
    _, token, _ = link_and_code(newest_email(smtp, email, before))
    response = api.post("/api/auth/magic-link/verify", json={"token": token}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


# JSON Web Tokens, built by hand


def claims_of(token: str) -> dict:
    """The payload of a token, unverified."""
    return jwt.decode(token, options={"verify_signature": False})


def jwt_payload(typ: str = "access", **overrides: Any) -> dict:
    """A payload with every claim the app requires, valid now."""
    settings = get_settings()
    now = int(time.time())
    payload = {"iss": settings.JWT_ISSUER, "aud": settings.JWT_AUDIENCE, "sub": "u1", "iat": now,
               "exp": now + 600, "jti": secrets.token_hex(16), "typ": typ, "tid": "t1", "sid": "s1"}
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def sign_jwt(payload: dict, secret: str | None = None, alg: str = "HS256") -> str:
    """Sign `payload` (with the app's secret unless another is given)."""
    return jwt.encode(payload, secret or get_settings().JWT_SECRET, algorithm=alg)


def unsigned_jwt(payload: dict) -> str:
    """An `alg: none` token: header and payload, empty signature."""
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def dead_redis() -> redis.Redis:
    """A client for a port where no Redis listens (connections are refused at once)."""
    return redis.Redis.from_url("redis://127.0.0.1:1/15", socket_connect_timeout=1)


# --- renders and quotas ---

from rq.job import Job  # noqa: E402
from rq.serializers import JSONSerializer  # noqa: E402

from saas_app.models import Render, RenderStep, UsageRecord  # noqa: E402
from saas_app.services.auth.sessions import Principal  # noqa: E402
from saas_app.services.core import queue  # noqa: E402
from saas_app.services.renders.input import RenderInput, estimate_usage  # noqa: E402
from saas_app.services.renders.status import RenderStatus  # noqa: E402
from saas_app.services.renders.steps.registry import STEPS  # noqa: E402
from saas_app.services.usage.ledger import period_of, sum_usage  # noqa: E402
from saas_app.services.usage.metrics import METRICS  # noqa: E402


def render_payload(scenes: int | list[dict] = 1, **overrides: Any) -> dict:
    """A valid render request body for the API or `RenderInput` (`scenes`: how many short ones, or the list)."""
    body: dict[str, Any] = {
        "topic": "Tiny facts",
        "scenes": scenes if isinstance(scenes, list) else [{"text": f"Scene {i + 1} says hello."}
                                                          for i in range(scenes)],
        "template": "aurora", "voice": "en", "resolution": "720p",
    }
    body.update(overrides)
    return body


def make_principal(user: User, tenant: Tenant, **overrides: Any) -> Principal:
    """The principal a request by `user` would resolve to (for calling services directly)."""
    values: dict[str, Any] = {"user_id": user.id, "tenant_id": tenant.id, "email": user.email,
                              "role": role_of(user, tenant.id), "plan": tenant.plan, "session_id": "test-session"}
    values.update(overrides)
    return Principal(**values)


def make_render(session: Session, user: User, **overrides: Any) -> Render:
    """A committed render row of `user`'s tenant with a pending row per registered step (nothing queued)."""
    request = RenderInput(topic="Factory render", scenes=[{"text": "Hello there."}])  # type: ignore[list-item]
    values: dict[str, Any] = {
        "tenant_id": tenant_id_of(user), "user_id": user.id, "topic": request.topic,
        "scenes_json": json.dumps([s.model_dump() for s in request.scenes]), "status": RenderStatus.QUEUED,
        "estimate_json": json.dumps(estimate_usage(request)), "period": period_of(),
    }
    values.update(overrides)
    render = Render(**values)
    session.add(render)
    for position, name in enumerate(STEPS.names()):
        session.add(RenderStep(render_id=render.id, tenant_id=render.tenant_id, name=name, position=position))
    session.commit()
    session.refresh(render)
    return render


def make_usage(session: Session, tenant_id: str, metric: str, amount: float, *, period: str | None = None,
               render_id: str | None = None, event_key: str | None = None, **overrides: Any) -> UsageRecord:
    """A committed ledger row (this month unless `period` is given)."""
    row = UsageRecord(tenant_id=tenant_id, metric=metric, amount=amount, period=period or period_of(),
                      render_id=render_id, event_key=event_key or f"test:{secrets.token_hex(8)}:{metric}",
                      **overrides)
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


# Render API flows and usage readers (shared by the quota and render tests)


def sign_in_headers(api: TestClient, smtp: MailCatcher, email: str) -> tuple[dict[str, str], dict]:
    """Sign in over HTTP: (Authorization headers, the `/me` user with user_id and tenant_id)."""
    tokens = sign_in_api(api, smtp, email)
    return bearer(tokens["access_token"]), tokens["user"]


def submit_render(api: TestClient, headers: dict, path: str = "/api/renders", **body: Any) -> dict:
    """POST a valid render (see `render_payload`) and return the 202 body."""
    response = api.post(path, json=render_payload(**body), headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def set_plan(session: Session, tenant_id: str, plan: str) -> None:
    """Move a tenant to another plan (committed)."""
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    tenant.plan = plan
    session.add(tenant)
    session.commit()


def render_rows(tenant_id: str) -> list[Render]:
    """The tenant's render rows as committed (read in a fresh session)."""
    with Session(get_engine()) as fresh:
        return list(fresh.exec(select(Render).where(Render.tenant_id == tenant_id)).all())


def render_job(render_id: str) -> Job:
    """The RQ job of a render, read with the JSON serializer (raises NoSuchJobError when absent)."""
    return Job.fetch(queue.render_job_id(render_id), connection=queue.get_rq_connection(), serializer=JSONSerializer)


def queued_render_jobs() -> list[str]:
    """Job ids waiting on the renders queue."""
    return queue.get_queue(queue.RENDERS).job_ids


def reserved(client: redis.Redis, tenant_id: str) -> dict[str, float]:
    """What the tenant's unfinished renders hold, every metric listed (missing = 0)."""
    held = dict.fromkeys(METRICS.names(), 0.0)
    held.update({k: round(float(v), 6) for k, v in client.hgetall(f"usage:{tenant_id}:resv").items()})
    return held


def used_counters(client: redis.Redis, tenant_id: str, period: str | None = None) -> dict[str, float]:
    """The tenant's Redis counters of one month (this month by default), only metrics present."""
    key = f"usage:{tenant_id}:{period or period_of()}"
    return {k: round(float(v), 6) for k, v in client.hgetall(key).items()}


def ledger_totals(tenant_id: str) -> dict[str, float]:
    """`ledger.sum_usage` for this month, read in a fresh session."""
    with Session(get_engine()) as fresh:
        return sum_usage(session=fresh, tenant_id=tenant_id, period=period_of())


def usage_summary(api: TestClient, headers: dict) -> dict:
    """GET /api/usage (asserting 200)."""
    response = api.get("/api/usage", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# --- account ---

import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from saas_app.services.renders import pipeline  # noqa: E402

BROWSER_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.0 Mobile/15E148 Safari/604.1")


def sign_in_again(api: TestClient, smtp: MailCatcher, client: redis.Redis, email: str,
                  user_agent: str | None = None) -> dict:
    """Another full HTTP sign-in (a new session) for `email`, past the per-address email rate limit."""
    clear_rate_limits(client)
    return sign_in_api(api, smtp, email, headers={"User-Agent": user_agent} if user_agent else None)


def api_key_headers(secret: str, scheme: str = "bearer") -> dict[str, str]:
    """Headers that present an API key: ``Authorization: Bearer nsk_...`` or ``X-API-Key``."""
    return bearer(secret) if scheme == "bearer" else {"X-API-Key": secret}


def create_api_key(api: TestClient, headers: dict, name: str = "CI key") -> dict:
    """POST /api/account/api-keys (asserting 201): ``{"id", "name", "prefix", "key"}``."""
    response = api.post("/api/account/api-keys", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def run_render_now(render_id: str) -> Render:
    """Run a submitted render's pipeline in this process (what the RQ job does); returns the ended row."""
    status = pipeline.run_render(render_id=render_id, retries_left=0)
    with Session(get_engine(), expire_on_commit=False) as fresh:
        render = fresh.get(Render, render_id)
    assert render is not None and status == render.status == "succeeded", (status, render and render.error)
    return render


def finished_render(api: TestClient, headers: dict, **body: Any) -> Render:
    """Submit a one-scene render over HTTP and run it to the end here."""
    return run_render_now(submit_render(api, headers, **body)["id"])


def table_rows(table: sa.Table) -> list[dict]:
    """Every row of a table as a dict (read in a fresh connection)."""
    with get_engine().connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(table))]


def rows_mentioning(needles: set[str]) -> dict[str, list[dict]]:
    """For every table on SQLModel.metadata, the rows where any column's text contains any needle."""
    found: dict[str, list[dict]] = {}
    existing = set(sa.inspect(get_engine()).get_table_names())
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in existing:
            continue
        hits = [row for row in table_rows(table)
                if any(needle in str(value) for value in row.values() if value is not None for needle in needles)]
        if hits:
            found[table.name] = hits
    return found


def _text(value: bytes | str) -> str:
    return value.decode(errors="backslashreplace") if isinstance(value, bytes) else str(value)


def _redis_texts(client: redis.Redis, key: bytes) -> list[str]:
    """A key's contents as text, sorted where Redis keeps no order (RQ job payloads unpacked)."""
    import zlib

    kind = _text(client.type(key))
    if kind == "string":
        return [_text(client.get(key) or b"")]
    if kind == "hash":
        fields = client.hgetall(key)
        texts = sorted(f"{_text(k)}={_text(v)}" for k, v in fields.items())
        if b"data" in fields:  # RQ keeps a job's function and arguments zlib-compressed
            with contextlib.suppress(zlib.error):
                texts.append(zlib.decompress(fields[b"data"]).decode(errors="backslashreplace"))
        return texts
    if kind == "set":
        return sorted(_text(v) for v in client.smembers(key))
    if kind == "zset":
        return [f"{_text(v)}@{score}" for v, score in client.zrange(key, 0, -1, withscores=True)]
    if kind == "list":
        return [_text(v) for v in client.lrange(key, 0, -1)]
    if kind == "stream":
        return [str(entry) for entry in client.xrange(key)]
    return [kind]


def redis_snapshot(needles: set[str]) -> dict[str, list[str]]:
    """The keys of the tests' Redis DB whose name or contents mention any needle, with their contents."""
    client = redis.Redis.from_url(get_settings().REDIS_URL)
    try:
        found = {}
        for key in client.scan_iter(count=1000):
            texts = _redis_texts(client, key)
            if any(needle in t for t in (_text(key), *texts) for needle in needles):
                found[_text(key)] = texts
        return found
    finally:
        client.close()


def redis_mentions(needles: set[str]) -> dict[str, list[str]]:
    """Which needles each mentioning key of the tests' Redis DB contains (in its name or contents)."""
    return {key: sorted(n for n in needles if any(n in t for t in (key, *texts)))
            for key, texts in redis_snapshot(needles).items()}


def download_path(message: EmailMessage) -> str:
    """The path of the export download link in a "your export is ready" email."""
    found = re.search(r"https?://\S+/api/account/download-export/\S+", text_part(message))
    assert found, f"no download link in the email:\n{text_part(message)}"
    return urlsplit(found.group(0)).path


def zip_names(path: Path) -> set[str]:
    """The member names of a ZIP file."""
    with zipfile.ZipFile(path) as zf:
        return set(zf.namelist())


def age_refresh_rotation(session: Session, refresh_token: str) -> None:
    """Move a refresh token's rotation back past the reuse grace window (as if time had passed)."""
    from datetime import timedelta

    from sqlalchemy import update
    from sqlmodel import col

    from saas_app.models import RefreshToken, utcnow

    past = utcnow() - timedelta(seconds=get_settings().REFRESH_REUSE_GRACE_SECONDS + 1)
    jti = claims_of(refresh_token)["jti"]
    result = session.exec(update(RefreshToken).where(col(RefreshToken.jti) == jti,
                                                      col(RefreshToken.rotated_at).is_not(None))
                          .values(rotated_at=past))
    assert result.rowcount == 1, "the token was not rotated yet"
    session.commit()
