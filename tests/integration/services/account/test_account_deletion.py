"""Workspace deletion, the thorough way: every kind of record a workspace can own, in every store.

Two workspaces get one of everything (sessions and refresh tokens from real sign-ins, a browser
session, an unused magic link, a finished and a queued render with steps, files, ledger and
JSONL log, audit rows, an API key, a built export, a paid Stripe subscription with its
webhook event, a scheduled deletion; A also a second member and a pending invitation).
Deleting workspace A must leave nothing of A anywhere but one pseudonymous audit row, must
keep its members' accounts (and the owner's place in another workspace working), and must
not change a byte of B.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis
from factories import (
    BROWSER_UA,
    PHONE_UA,
    api_key_headers,
    bearer,
    clear_rate_limits,
    create_api_key,
    emails_to,
    finished_render,
    link_and_code,
    make_tenant,
    make_user,
    newest_email,
    redis_mentions,
    redis_snapshot,
    rows_mentioning,
    sign_in_again,
    submit_render,
    text_part,
)
from fastapi.testclient import TestClient
from PIL import Image
from shared_helpers import SettingsOverride
from sqlmodel import Session, col, select
from stripe_server import (  # noqa: F401  (stripe_server is the session fixture)
    API_KEY,
    app_env,
    customers_of_tenant,
    get_subscription,
    pay_checkout,
    reset_stripe,
    stripe_server,
)

from saas_app import routes
from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.jobs.account import build_export_job, purge_tenant_job
from saas_app.models import (
    AccountDeletion,
    ApiKey,
    AuditLog,
    AuthSession,
    DataExport,
    Invitation,
    Membership,
    RefreshToken,
    Render,
    StripeEvent,
    Subscription,
    Tenant,
    User,
    utcnow,
)
from saas_app.services.account.audit import get_purged_at
from saas_app.services.account.deletion import purge_due_deletions
from saas_app.services.account.exports import export_path
from saas_app.services.auth import principal_cache
from saas_app.services.auth.magic_links import LinkState, check_magic_link
from saas_app.services.core.queue import get_queue, purge_job_id
from saas_app.settings import get_settings

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("account_dirs")]

ALICE = "alice@example.com"
BOB = "bob@example.com"
GRACE_HOURS = 48  # not the default (24), so the tests show the setting is used
ORIGIN = {"Origin": "http://testserver"}


@dataclass
class Owned:
    """A tenant with one of everything, and how to reach it."""

    email: str
    tenant_id: str
    user_id: str
    headers: dict[str, str]
    refresh_token: str
    cookie: str
    api_key: str
    ids: dict[str, set[str]] = field(default_factory=dict)

    @property
    def needles(self) -> set[str]:
        """Every identifier of the tenant's data and its owner."""
        return set().union(*self.ids.values())

    @property
    def workspace_needles(self) -> set[str]:
        """Every identifier of the workspace's data (what must not survive its deletion; the owner's
        account, i.e. their user id and email, stays)."""
        return set().union(*(v for k, v in self.ids.items() if k not in ("user", "email")))


@pytest.fixture
def billing(stripe_server: str, app_settings: SettingsOverride) -> str:  # noqa: F811
    """Billing configured against the local Stripe (emptied first), and a deletion grace of 48 h."""
    reset_stripe(stripe_server)
    app_settings.set(**app_env(stripe_server), DELETION_GRACE_HOURS=GRACE_HOURS)
    return stripe_server


def _browser_cookie(api: TestClient, smtp: MailCatcher, rc: redis.Redis, email: str) -> str:
    """A browser sign-in (form post of the link token): the HttpOnly session cookie's value."""
    clear_rate_limits(rc)
    before = emails_to(smtp, email)
    assert api.post("/api/auth/magic-link/request", json={"email": email}).status_code == 202
    _, token, _ = link_and_code(newest_email(smtp, email, before))
    response = api.post("/api/auth/session", data={"token": token}, headers={**ORIGIN, "User-Agent": BROWSER_UA},
                        follow_redirects=False)
    assert response.status_code == 303, response.text
    cookie = response.cookies[get_settings().SESSION_COOKIE_NAME]
    api.cookies.clear()  # later requests choose their credentials explicitly
    return cookie


def _cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"{get_settings().SESSION_COOKIE_NAME}={value}"}


def _subscribe(api: TestClient, headers: dict, stripe_url: str) -> None:
    response = api.post("/api/billing/checkout", json={"plan": "pro"}, headers=headers)
    assert response.status_code == 200, response.text
    _, delivered = pay_checkout(stripe_url, api, response.json()["url"])
    assert delivered.status_code == 200 and delivered.json()["result"] == "applied", delivered.text


def _collect_ids(owned: Owned) -> None:
    """Read back every id the tenant's rows carry (plus Stripe's), for the scans."""
    with Session(get_engine()) as s:
        tenant = s.get(Tenant, owned.tenant_id)
        sub = s.get(Subscription, owned.tenant_id)
        assert tenant is not None and tenant.stripe_customer_id and sub is not None and sub.status == "active"
        sessions = set(s.exec(select(AuthSession.id).where(AuthSession.user_id == owned.user_id)).all())
        owned.ids = {
            "tenant": {owned.tenant_id}, "user": {owned.user_id}, "email": {owned.email},
            "sessions": sessions,
            "refresh": set(s.exec(select(RefreshToken.jti).where(col(RefreshToken.session_id).in_(sessions))).all()),
            "renders": set(s.exec(select(Render.id).where(Render.tenant_id == owned.tenant_id)).all()),
            "keys": set(s.exec(select(ApiKey.prefix).where(ApiKey.tenant_id == owned.tenant_id)).all()),
            "exports": {v for row in s.exec(select(DataExport).where(DataExport.tenant_id == owned.tenant_id)).all()
                        for v in (row.id, row.filename)},
            "stripe": {tenant.stripe_customer_id, sub.stripe_subscription_id},
        }
        kinds = {k for k in s.exec(select(AuthSession.kind).where(AuthSession.user_id == owned.user_id)).all()}
        events = s.exec(select(StripeEvent).where(StripeEvent.tenant_id == owned.tenant_id)).all()
    assert len(owned.ids["sessions"]) == 3 and kinds == {"api", "browser"}
    assert len(owned.ids["refresh"]) == 3 and len(owned.ids["renders"]) == 2 and events


def _own_everything(api: TestClient, smtp: MailCatcher, rc: redis.Redis, stripe_url: str, email: str) -> Owned:
    first = sign_in_again(api, smtp, rc, email, BROWSER_UA)
    second = sign_in_again(api, smtp, rc, email, PHONE_UA)
    rotated = api.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    headers = bearer(first["access_token"])
    cookie = _browser_cookie(api, smtp, rc, email)
    clear_rate_limits(rc)
    assert api.post("/api/auth/magic-link/request", json={"email": email}).status_code == 202  # left unused

    finished_render(api, headers, topic=f"Finished for {email}")
    submit_render(api, headers, topic="Still queued")  # holds a reservation and an RQ job
    image = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 0, 0)).save(image, format="PNG")  # an asset in the library
    uploaded = api.post(routes.API_ASSETS, headers=headers, files={"file": ("own.png", image.getvalue())})
    assert uploaded.status_code == 201, uploaded.text
    key = create_api_key(api, headers, "Everything key")["key"]
    assert api.get("/api/usage", headers=api_key_headers(key)).status_code == 200
    export = api.post("/api/account/export", headers=headers)
    assert export.status_code == 202 and build_export_job(export.json()["id"]) == "ready"
    _subscribe(api, headers, stripe_url)

    owned = Owned(email=email, tenant_id=first["user"]["tenant_id"], user_id=first["user"]["user_id"],
                  headers=headers, refresh_token=rotated.json()["refresh_token"], cookie=cookie, api_key=key)
    _collect_ids(owned)
    return owned


def _dirs(tenant_id: str) -> list[Path]:
    settings = get_settings()
    return [Path(settings.STORAGE_DIR) / tenant_id, Path(settings.USAGE_LOG_DIR) / tenant_id]


def _export_files(owned: Owned) -> list[Path]:
    return [export_path(v) for v in owned.ids["exports"] if v.endswith(".zip")]


def _file_digests(owned: Owned) -> dict[str, str]:
    digests = {}
    for path in [*(p for d in _dirs(owned.tenant_id) for p in d.rglob("*") if p.is_file()), *_export_files(owned)]:
        digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _snapshot(owned: Owned) -> dict[str, object]:
    """Everything stored about a tenant: its rows in every table, its Redis keys, its files."""
    rows = {table: sorted(json.dumps(r, default=str, sort_keys=True) for r in found)
            for table, found in rows_mentioning(owned.needles).items()}
    keys = {}
    for key, texts in redis_snapshot(owned.needles).items():
        # A key of the tenant's own in full; of shared keys (queues, global sets) only its entries.
        own = any(n in key for n in owned.needles)
        keys[key] = texts if own else [t for t in texts if any(n in t for n in owned.needles)]
    return {"rows": rows, "redis": keys, "files": _file_digests(owned)}


def _without_job(state: object, job_id: str) -> dict[str, list[str]]:
    """A Redis snapshot minus every trace of one RQ job (a canceled purge job stays in RQ's registries)."""
    kept = {}
    for key, texts in state.items():  # type: ignore[attr-defined]
        if job_id not in key and (rest := [t for t in texts if job_id not in t]):
            kept[key] = rest
    return kept


def _without_cache(state: dict[str, list[str]]) -> dict[str, list[str]]:
    """A Redis snapshot minus the verified-principal cache (copies made as requests come in)."""
    cache = (principal_cache.ENTRY_PREFIX, principal_cache.INDEX_PREFIX)
    return {key: texts for key, texts in state.items() if not key.startswith(cache)}


def _schedule(api: TestClient, smtp: MailCatcher, owned: Owned) -> str:
    wrong = api.post("/api/account/delete", json={"confirm_email": "someone@example.com"}, headers=owned.headers)
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["fields"][0]["field"] == "confirm_email"
    with Session(get_engine()) as s:
        assert s.get(AccountDeletion, owned.tenant_id) is None

    before = emails_to(smtp, owned.email)
    response = api.post("/api/account/delete", json={"confirm_email": f"  {owned.email.upper()} "},
                        headers=owned.headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "scheduled"
    message = newest_email(smtp, owned.email, before)
    assert message["Subject"] == "Your workspace will be deleted"
    assert "http://testserver/account" in text_part(message) and "Cancel" in text_part(message)
    assert "Your own account and your other workspaces stay" in text_part(message)
    return body["scheduled_for"]


def _stripe_customer(stripe_url: str, customer_id: str) -> httpx.Response:
    return httpx.get(f"{stripe_url}/v1/customers/{customer_id}", headers={"Authorization": f"Bearer {API_KEY}"})


def _make_due(tenant_id: str) -> None:
    with Session(get_engine()) as s:
        row = s.get(AccountDeletion, tenant_id)
        assert row is not None
        row.scheduled_for = utcnow() - timedelta(seconds=1)
        s.add(row)
        s.commit()


def _share(api: TestClient, smtp: MailCatcher, rc: redis.Redis, owned: Owned) -> tuple[str, str, dict[str, str]]:
    """A second member and a pending invitation in the owner's workspace, and the owner a member of
    another workspace with a session there. Returns (the member's user id, the other workspace's id,
    headers of the owner's session in it)."""
    with Session(get_engine()) as s:
        member = make_user(s, s.get(Tenant, owned.tenant_id), role="member", email=f"member-{owned.email}")
        elsewhere = make_tenant(s, name="Elsewhere")
        s.add(Membership(tenant_id=elsewhere.id, user_id=owned.user_id, role="member"))
        invite = Invitation(tenant_id=owned.tenant_id, email="invitee@example.com", role="member",
                            token_hash=hashlib.sha256(owned.email.encode()).hexdigest(), invited_by=owned.user_id,
                            expires_at=utcnow() + timedelta(days=7))
        s.add(invite)
        s.commit()
        owned.ids["invitation"] = {invite.id, invite.token_hash}
        member_id, elsewhere_id = member.id, elsewhere.id
    signed = sign_in_again(api, smtp, rc, owned.email)
    headers = bearer(signed["access_token"])
    if signed["user"]["tenant_id"] != elsewhere_id:
        switched = api.post(f"/api/workspaces/{elsewhere_id}/switch", headers=headers)
        assert switched.status_code == 200, switched.text
        headers = bearer(switched.json()["tokens"]["access_token"])
    assert api.get("/api/usage", headers=headers).status_code == 200
    return member_id, elsewhere_id, headers


def test_purge_removes_every_trace_of_the_tenant_and_nothing_else(
    api: TestClient, session: Session, mailbox: MailCatcher, redis_client: redis.Redis, billing: str,
) -> None:
    alice = _own_everything(api, mailbox, redis_client, billing, ALICE)
    member_id, elsewhere_id, elsewhere_headers = _share(api, mailbox, redis_client, alice)
    bob = _own_everything(api, mailbox, redis_client, billing, BOB)
    _schedule(api, mailbox, bob)  # B's deletion is pending but not due: the sweep must leave B alone

    before = emails_to(mailbox, f"member-{ALICE}")
    scheduled_for = _schedule(api, mailbox, alice)
    heads_up = newest_email(mailbox, f"member-{ALICE}", before)  # the other member is told too
    assert heads_up["Subject"] == "A workspace you belong to will be deleted"
    deletion = api.get("/api/account/deletion", headers=alice.headers).json()
    assert deletion == {"scheduled_for": scheduled_for}
    with Session(get_engine()) as s:
        row = s.get(AccountDeletion, alice.tenant_id)
        assert row is not None
        assert abs(row.scheduled_for - (utcnow() + timedelta(hours=GRACE_HOURS))) < timedelta(minutes=1)
        assert row.requested_by == alice.user_id
    registry = get_queue("default").scheduled_job_registry
    assert purge_job_id(alice.tenant_id) in registry.get_job_ids()

    assert purge_due_deletions(session=session) == 0  # within the grace period nothing happens
    assert api.get("/api/renders", headers=alice.headers).json()["total"] == 2
    for path in [*_dirs(alice.tenant_id), *_export_files(alice)]:
        assert path.exists(), path

    bob_before = _snapshot(bob)
    assert bob_before["rows"] and bob_before["redis"] and bob_before["files"]
    _make_due(alice.tenant_id)
    assert purge_due_deletions(session=session) == 1
    session.commit()

    # Every store is checked before the test fails, so one run reports every leftover.
    problems: list[str] = []

    # The database: no row anywhere mentions any of A's ids, keys, exports, invitations or Stripe ids,
    # and no membership or session points at it ...
    left = rows_mentioning(alice.workspace_needles)
    if left:
        problems.append(f"rows still mention the deleted tenant: {json.dumps(left, default=str, indent=1)}")
    # ... except one pseudonymous audit row.
    purged = session.exec(select(AuditLog).where(AuditLog.action == "account.purged")).all()
    assert len(purged) == 1
    assert (purged[0].tenant_id, purged[0].user_id, purged[0].actor) == (None, None, "system")
    assert json.loads(purged[0].details) == {"renders": 2, "members": 2}
    # The members' accounts stay; the owner's place in the other workspace still works.
    assert session.get(User, alice.user_id) is not None and session.get(User, member_id) is not None
    assert session.exec(select(Membership).where(Membership.user_id == member_id)).first() is None
    assert [m.tenant_id for m in session.exec(select(Membership).where(Membership.user_id == alice.user_id))] == [
        elsewhere_id]
    assert api.get("/api/usage", headers=elsewhere_headers).status_code == 200
    assert [w["tenant_id"] for w in api.get("/api/workspaces", headers=elsewhere_headers).json()] == [elsewhere_id]

    # Redis: no key names or holds A's tenant, session or render ids.
    redis_needles = set().union(*(alice.ids[k] for k in ("tenant", "sessions", "renders")))
    if leftovers := redis_mentions(redis_needles):
        problems.append(f"Redis keys still mention the deleted tenant: {json.dumps(leftovers, indent=1)}")

    # Files: the storage folder, the JSONL usage log and the export ZIP are gone.
    problems += [f"still on disk: {path}" for path in [*_dirs(alice.tenant_id), *_export_files(alice)]
                 if path.exists()]

    # Stripe: the subscription was canceled and the customer deleted.
    if customers_of_tenant(billing, alice.tenant_id):
        problems.append("the Stripe customer still exists")
    customer_id = next(v for v in alice.ids["stripe"] if v.startswith("cus_"))
    gone = _stripe_customer(billing, customer_id)
    assert gone.status_code == 404 or gone.json().get("deleted") is True, gone.text

    # B: every row, key and file exactly as before; its Stripe customer and subscription live on.
    bob_after = _snapshot(bob)
    for part in ("rows", "redis", "files"):
        changed = {k for k in set(bob_after[part]) | set(bob_before[part])  # type: ignore[call-overload]
                   if bob_after[part].get(k) != bob_before[part].get(k)}  # type: ignore[attr-defined]
        assert not changed, (part, {k: (bob_before[part].get(k), bob_after[part].get(k))  # type: ignore[attr-defined]
                                    for k in changed})
    assert len(customers_of_tenant(billing, bob.tenant_id)) == 1
    bob_sub = next(v for v in bob.ids["stripe"] if v.startswith("sub_"))
    assert get_subscription(billing, bob_sub)["status"] == "active"
    assert api.get("/api/renders", headers=bob.headers).json()["total"] == 2
    assert api.get("/api/account/deletion", headers=bob.headers).json()["scheduled_for"] is not None
    assert not problems, "\n".join(problems)


def test_the_deleted_workspaces_credentials_stop_and_the_person_starts_afresh(
    api: TestClient, session: Session, mailbox: MailCatcher, redis_client: redis.Redis, billing: str,
) -> None:
    alice = _own_everything(api, mailbox, redis_client, billing, ALICE)
    _schedule(api, mailbox, alice)
    _make_due(alice.tenant_id)
    assert purge_due_deletions(session=session) == 1

    assert api.get("/api/usage", headers=alice.headers).status_code == 401
    assert api.get("/api/usage", headers=api_key_headers(alice.api_key)).status_code == 401
    assert api.get("/api/usage", headers=_cookie(alice.cookie)).status_code == 401
    assert api.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token}).status_code == 401

    # The person's account stays (only the workspace went): signing in opens a new personal workspace.
    clear_rate_limits(redis_client)
    before = emails_to(mailbox, ALICE)
    assert api.post("/api/auth/magic-link/request", json={"email": ALICE}).status_code == 202
    _, token, _ = link_and_code(newest_email(mailbox, ALICE, before))
    with Session(get_engine()) as s:
        check = check_magic_link(session=s, token=token)
        assert check.state == LinkState.VALID and check.deleted_on is None
        assert get_purged_at(session=s, email=ALICE) is None

    again = sign_in_again(api, mailbox, redis_client, ALICE)
    headers = bearer(again["access_token"])
    assert again["user"]["tenant_id"] != alice.tenant_id and again["user"]["user_id"] == alice.user_id
    assert again["user"]["plan"] == "free"
    assert api.get("/api/renders", headers=headers).json()["total"] == 0
    usage = api.get("/api/usage", headers=headers).json()
    assert usage["plan"] == "free"
    assert all(m["used"] == 0 for m in usage["metrics"].values()), usage
    subscription = api.get("/api/billing/subscription", headers=headers).json()
    assert (subscription["plan"], subscription["status"]) == ("free", "active")
    assert api.get("/api/account/api-keys", headers=headers).json()["items"] == []
    assert api.get("/api/account/exports", headers=headers).json()["items"] == []
    assert len(api.get("/api/account/sessions", headers=headers).json()["items"]) == 1
    assert api.get("/api/account/deletion", headers=headers).json() == {"scheduled_for": None}
    actions = [i["action"] for i in api.get("/api/account/audit", headers=headers).json()["items"]]
    assert sorted(actions) == ["auth.signed_in", "tenant.created"], actions
    with Session(get_engine()) as s:
        tenant = s.get(Tenant, again["user"]["tenant_id"])
        assert tenant is not None and tenant.stripe_customer_id is None and tenant.plan == "free"
        assert s.get(Subscription, tenant.id) is None


def test_cancel_within_the_grace_period_keeps_everything(
    api: TestClient, session: Session, mailbox: MailCatcher, redis_client: redis.Redis, billing: str,
) -> None:
    alice = _own_everything(api, mailbox, redis_client, billing, ALICE)
    before = _snapshot(alice)
    _schedule(api, mailbox, alice)
    assert purge_job_id(alice.tenant_id) in get_queue("default").scheduled_job_registry.get_job_ids()

    canceled = api.post("/api/account/delete/cancel", headers=alice.headers)
    assert canceled.status_code == 200 and canceled.json() == {"status": "canceled"}
    assert api.get("/api/account/deletion", headers=alice.headers).json() == {"scheduled_for": None}
    assert api.post("/api/account/delete/cancel", headers=alice.headers).status_code == 404
    assert purge_job_id(alice.tenant_id) not in get_queue("default").scheduled_job_registry.get_job_ids()

    assert purge_due_deletions(session=session) == 0
    assert purge_tenant_job(alice.tenant_id) is False  # a purge job that fires anyway does nothing

    after = _snapshot(alice)
    rows_after = dict(after["rows"])  # type: ignore[call-overload]
    audit_after = rows_after.pop("auditlog")
    rows_before = dict(before["rows"])  # type: ignore[call-overload]
    audit_before = rows_before.pop("auditlog")
    assert rows_after == rows_before
    assert set(audit_before) <= set(audit_after)
    new_actions = sorted(json.loads(r)["action"] for r in set(audit_after) - set(audit_before))
    assert new_actions == ["account.deletion_canceled", "account.deletion_scheduled"]
    assert after["files"] == before["files"]
    assert _without_cache(_without_job(after["redis"], purge_job_id(alice.tenant_id))) == _without_cache(
        before["redis"])
    assert len(customers_of_tenant(billing, alice.tenant_id)) == 1
    assert api.get("/api/renders", headers=alice.headers).json()["total"] == 2


def test_the_purge_job_purges_a_due_deletion_once(
    api: TestClient, session: Session, mailbox: MailCatcher, redis_client: redis.Redis,
    app_settings: SettingsOverride,
) -> None:
    app_settings.set(DELETION_GRACE_HOURS=0, STRIPE_API_KEY="")
    first = sign_in_again(api, mailbox, redis_client, ALICE)
    tenant_id = first["user"]["tenant_id"]
    headers = bearer(first["access_token"])
    finished_render(api, headers)
    _schedule(api, mailbox, Owned(email=ALICE, tenant_id=tenant_id, user_id=first["user"]["user_id"],
                                  headers=headers, refresh_token="", cookie="", api_key=""))

    assert purge_tenant_job(tenant_id) is True
    assert purge_tenant_job(tenant_id) is False  # idempotent: the tenant is gone
    with Session(get_engine()) as s:
        assert s.get(Tenant, tenant_id) is None
        assert s.exec(select(User).where(User.email == ALICE)).first() is not None  # the person stays
        assert s.exec(select(Membership).where(Membership.tenant_id == tenant_id)).first() is None
        assert s.exec(select(AuthSession).where(AuthSession.tenant_id == tenant_id)).first() is None
        assert s.exec(select(Render).where(Render.tenant_id == tenant_id)).first() is None
    for path in _dirs(tenant_id):
        assert not path.exists()
