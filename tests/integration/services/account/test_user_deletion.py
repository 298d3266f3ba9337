"""Deleting one person's account: solo workspaces go whole, shared ones keep their videos and history
(without the person's address), the person's every credential stops, and a sole owner of a shared
workspace is refused (409 naming it) or, if that happens during the grace period, the purge skips."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from factories import (
    CTX,
    api_key_headers,
    bearer,
    clear_rate_limits,
    create_api_key,
    emails_to,
    link_and_code,
    make_render,
    make_tenant,
    make_user,
    newest_email,
    redis_mentions,
    rows_mentioning,
    sign_in_headers,
    text_part,
)
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.jobs.account import purge_user_job
from saas_app.models import (
    ApiKey,
    AuditLog,
    AuthSession,
    Invitation,
    Membership,
    Render,
    Tenant,
    User,
    UserDeletion,
    utcnow,
)
from saas_app.services.account import user_deletion
from saas_app.services.account.audit import get_purged_at
from saas_app.services.account.user_purge import FORMER_MEMBER, UserPurge, pseudonym_email
from saas_app.services.auth.magic_links import check_magic_link
from saas_app.services.auth.sessions import Principal, authenticate_access_token
from saas_app.services.core.errors import Conflict, InvalidInput, NotFound
from saas_app.services.core.queue import get_queue, get_rq_connection, user_purge_job_id

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("account_dirs")]

ALICE = "alice@example.com"
OLGA = "olga@example.com"


def _join(tenant_id: str, user_id: str, role: str) -> None:
    with Session(get_engine()) as s:
        s.add(Membership(tenant_id=tenant_id, user_id=user_id, role=role))
        s.commit()


def _switch(api: TestClient, headers: dict[str, str], tenant_id: str) -> dict[str, str]:
    response = api.post(f"/api/workspaces/{tenant_id}/switch", headers=headers)
    assert response.status_code == 200, response.text
    return bearer(response.json()["tokens"]["access_token"])


def _principal(api: TestClient, headers: dict[str, str]) -> Principal:
    """The principal the API resolves these headers to (as a route would)."""
    with Session(get_engine()) as s:
        return authenticate_access_token(session=s, token=headers["Authorization"].removeprefix("Bearer "))


def _make_due(user_id: str) -> None:
    with Session(get_engine()) as s:
        row = s.get(UserDeletion, user_id)
        assert row is not None
        row.scheduled_for = utcnow() - timedelta(seconds=1)
        s.add(row)
        s.commit()


def test_a_person_purge_deletes_solo_workspaces_and_leaves_shared_ones_their_videos(
    api: TestClient, session: Session, mailbox: MailCatcher, redis_client: redis.Redis,
) -> None:
    alice_headers, alice = sign_in_headers(api, mailbox, ALICE)  # her personal workspace: solo
    solo_id = alice["tenant_id"]
    olga_headers, olga = sign_in_headers(api, mailbox, OLGA)  # Olga's workspace: shared with Alice (admin)
    shared_id = olga["tenant_id"]
    _join(shared_id, alice["user_id"], "admin")
    in_shared = _switch(api, alice_headers, shared_id)
    key = create_api_key(api, in_shared, "Alice's key")["key"]
    with Session(get_engine()) as s:
        alice_user = s.get(User, alice["user_id"])
        assert alice_user is not None
        kept_id = make_render(s, alice_user, tenant_id=shared_id, topic="Alice made this for Olga").id
        make_render(s, alice_user, tenant_id=solo_id, topic="Alice's own")
        elsewhere = make_tenant(s)
        s.add(Invitation(tenant_id=elsewhere.id, email=ALICE, role="member", token_hash="f" * 64,
                         invited_by=olga["user_id"], expires_at=utcnow() + timedelta(days=7)))
        s.commit()

    before = emails_to(mailbox, ALICE)
    user_deletion.schedule_user_deletion(session=session, principal=_principal(api, in_shared),
                                         confirm_email=ALICE.upper(), ctx=CTX)
    message = newest_email(mailbox, ALICE, before)
    assert message["Subject"] == "Your account will be deleted"
    assert "http://testserver/account" in text_part(message)
    assert user_purge_job_id(alice["user_id"]) in get_queue("default").scheduled_job_registry.get_job_ids()
    assert user_deletion.purge_due_user_deletions(session=session) == 0  # within the grace period

    _make_due(alice["user_id"])
    assert user_deletion.purge_due_user_deletions(session=session) == 1
    session.expire_all()

    assert session.get(Tenant, solo_id) is None  # only she used it: gone whole
    assert session.exec(select(Render).where(Render.tenant_id == solo_id)).first() is None
    assert session.get(Tenant, shared_id) is not None
    stays = session.get(Render, kept_id)
    assert stays is not None and stays.user_id == alice["user_id"]  # the video stays with the workspace
    pseudonym = session.get(User, alice["user_id"])
    assert pseudonym is not None and pseudonym.email == pseudonym_email(alice["user_id"])
    for table in (Membership, AuthSession, ApiKey, UserDeletion):
        assert session.exec(select(table).where(table.user_id == alice["user_id"])).first() is None  # type: ignore[attr-defined]
    assert session.exec(select(Invitation).where(Invitation.email == ALICE)).first() is None

    # Not a row, not a Redis key holds her address any more; the shared workspace's history says "former member".
    assert rows_mentioning({ALICE}) == {}
    assert redis_mentions({ALICE}) == {}
    history = session.exec(select(AuditLog).where(AuditLog.tenant_id == shared_id)).all()
    assert {"workspace.switched", "api_key.created", "account.member_deleted"} <= {a.action for a in history}
    assert all(a.actor in (FORMER_MEMBER, OLGA, "system") or a.actor.startswith("nsk_") for a in history), [
        a.actor for a in history]
    purged = session.exec(select(AuditLog).where(AuditLog.action == "account.user_purged")).one()
    assert (purged.tenant_id, purged.user_id) == (None, None)
    assert json.loads(purged.details) == {"workspaces_deleted": 1, "workspaces_left": 1}

    # Her credentials stop; Olga's workspace works on with the video; a new sign-in is told.
    for headers in (alice_headers, in_shared, api_key_headers(key)):
        assert api.get("/api/usage", headers=headers).status_code == 401
    listed = api.get("/api/renders", headers=olga_headers).json()
    assert [r["id"] for r in listed["items"]] == [kept_id]
    clear_rate_limits(redis_client)
    before = emails_to(mailbox, ALICE)
    assert api.post("/api/auth/magic-link/request", json={"email": ALICE}).status_code == 202
    _, token, _ = link_and_code(newest_email(mailbox, ALICE, before))
    with Session(get_engine()) as s:
        assert check_magic_link(session=s, token=token).deleted_on is not None
        assert get_purged_at(session=s, email=ALICE) is not None


def test_an_account_nothing_references_is_deleted_outright(
    api: TestClient, session: Session, mailbox: MailCatcher,
) -> None:
    headers, alice = sign_in_headers(api, mailbox, ALICE)
    user_deletion.schedule_user_deletion(session=session, principal=_principal(api, headers),
                                         confirm_email=ALICE, ctx=CTX)
    _make_due(alice["user_id"])
    assert purge_user_job(alice["user_id"]) == "purged"
    assert purge_user_job(alice["user_id"]) == "skipped"  # idempotent: nothing pending any more
    session.expire_all()
    assert session.get(User, alice["user_id"]) is None and session.get(Tenant, alice["tenant_id"]) is None
    assert rows_mentioning({ALICE, alice["user_id"], alice["tenant_id"]}).keys() <= {"auditlog"}
    assert [a.action for a in session.exec(select(AuditLog))] == ["account.purged", "account.user_purged"]


def test_the_only_owner_of_a_shared_workspace_is_refused_naming_it(
    api: TestClient, session: Session, mailbox: MailCatcher,
) -> None:
    headers, alice = sign_in_headers(api, mailbox, ALICE)
    with Session(get_engine()) as s:
        tenant = s.get(Tenant, alice["tenant_id"])
        assert tenant is not None
        tenant.name = "Alice Films"
        s.add(tenant)
        s.commit()
        bob = make_user(s, tenant, role="member")
    principal = _principal(api, headers)
    with pytest.raises(InvalidInput):
        user_deletion.schedule_user_deletion(session=session, principal=principal, confirm_email=OLGA, ctx=CTX)
    with pytest.raises(Conflict) as refused:
        user_deletion.schedule_user_deletion(session=session, principal=principal, confirm_email=ALICE, ctx=CTX)
    assert refused.value.status_code == 409 and refused.value.code == "sole_owner"
    assert "\u201cAlice Films\u201d" in refused.value.message and "Team page" in refused.value.message
    blocking = user_deletion.get_blocking_workspaces(session=session, user_id=alice["user_id"])
    assert [(w.tenant_id, w.name, w.members) for w in blocking] == [(alice["tenant_id"], "Alice Films", 2)]

    with Session(get_engine()) as s:  # handed over: Bob is an owner too
        membership = s.exec(select(Membership).where(Membership.user_id == bob.id)).one()
        membership.role = "owner"
        s.add(membership)
        s.commit()
    assert user_deletion.get_blocking_workspaces(session=session, user_id=alice["user_id"]) == []
    user_deletion.schedule_user_deletion(session=session, principal=principal, confirm_email=ALICE, ctx=CTX)
    user_deletion.cancel_user_deletion(session=session, principal=principal, ctx=CTX)
    session.commit()
    with pytest.raises(NotFound):
        user_deletion.cancel_user_deletion(session=session, principal=principal, ctx=CTX)
    assert user_purge_job_id(alice["user_id"]) not in get_queue("default").scheduled_job_registry.get_job_ids()


def test_a_purge_that_finds_a_sole_owner_of_a_shared_workspace_skips_and_tells_them(
    api: TestClient, session: Session, mailbox: MailCatcher,
) -> None:
    headers, alice = sign_in_headers(api, mailbox, ALICE)
    user_deletion.schedule_user_deletion(session=session, principal=_principal(api, headers),
                                         confirm_email=ALICE, ctx=CTX)
    with Session(get_engine()) as s:  # during the grace period someone joins her workspace
        make_user(s, s.get(Tenant, alice["tenant_id"]), role="member")
    _make_due(alice["user_id"])
    before = emails_to(mailbox, ALICE)
    assert user_deletion.purge_user(session=session, user_id=alice["user_id"]) == UserPurge.BLOCKED
    session.commit()
    told = newest_email(mailbox, ALICE, before)
    assert told["Subject"] == "Your account was not deleted" and "only owner" in text_part(told)
    assert session.get(UserDeletion, alice["user_id"]) is None  # not retried every minute
    assert session.get(Tenant, alice["tenant_id"]) is not None
    assert api.get("/api/usage", headers=headers).status_code == 200


def test_purges_lost_with_redis_are_scheduled_again(
    api: TestClient, session: Session, mailbox: MailCatcher,
) -> None:
    headers, alice = sign_in_headers(api, mailbox, ALICE)
    user_deletion.schedule_user_deletion(session=session, principal=_principal(api, headers),
                                         confirm_email=ALICE, ctx=CTX)
    assert user_deletion.reschedule_user_purges(session=session) == 0
    get_rq_connection().flushdb()
    assert user_deletion.reschedule_user_purges(session=session) == 1
    assert user_purge_job_id(alice["user_id"]) in get_queue("default").scheduled_job_registry.get_job_ids()
