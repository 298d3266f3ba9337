"""Tenants never see each other: identity and audit trail stay inside one tenant."""

from __future__ import annotations

import pytest
from factories import CTX, bearer, make_user, sign_in_api, tenant_id_of
from fastapi.testclient import TestClient
from sqlmodel import Session

from saas_app.dev.mailcatcher import MailCatcher
from saas_app.services.account.audit import list_events, record_event

pytestmark = pytest.mark.db


def test_each_user_sees_their_own_tenant(api: TestClient, mailbox: MailCatcher) -> None:
    alice = sign_in_api(api, mailbox, "alice@example.com")
    bob = sign_in_api(api, mailbox, "bob@example.com")
    assert alice["user"]["tenant_id"] != bob["user"]["tenant_id"]
    for tokens in (alice, bob):
        me = api.get("/api/auth/me", headers=bearer(tokens["access_token"])).json()
        assert me == tokens["user"]


def test_audit_listing_never_mixes_tenants(api: TestClient, session: Session, mailbox: MailCatcher) -> None:
    alice = sign_in_api(api, mailbox, "alice@example.com")["user"]
    bob = sign_in_api(api, mailbox, "bob@example.com")["user"]
    carol = make_user(session, email="carol@example.com")
    for n in range(25):  # more than one page of someone else's rows
        record_event(session=session, action="test.noise", ctx=CTX, tenant_id=tenant_id_of(carol), target=str(n))
    record_event(session=session, action="system.no_tenant", ctx=CTX)
    session.commit()

    rows, total = list_events(session=session, tenant_id=alice["tenant_id"], limit=100)
    assert rows and total == len(rows)
    assert {row.tenant_id for row in rows} == {alice["tenant_id"]}
    assert {"tenant.created", "auth.signed_in"} <= {row.action for row in rows}

    bob_rows, _ = list_events(session=session, tenant_id=bob["tenant_id"], limit=100)
    assert not {row.id for row in rows} & {row.id for row in bob_rows}
    carol_rows, carol_total = list_events(session=session, tenant_id=tenant_id_of(carol), limit=10)
    assert carol_total == 25 and len(carol_rows) == 10
    assert [row.target for row in carol_rows] == [str(n) for n in range(24, 14, -1)]  # newest first
