"""Signed-in devices over HTTP: list them (device, address, last seen, which is this one) and end any one."""

from __future__ import annotations

from datetime import datetime

import pytest
import redis
from factories import (
    BROWSER_UA,
    PHONE_UA,
    api_key_headers,
    bearer,
    claims_of,
    create_api_key,
    sign_in_again,
)
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import AuditLog

pytestmark = pytest.mark.db

ALICE = "alice@example.com"
BOB = "bob@example.com"


def _two_devices(api: TestClient, mailbox: MailCatcher, rc: redis.Redis) -> tuple[dict, dict]:
    laptop = sign_in_again(api, mailbox, rc, ALICE, BROWSER_UA)
    phone = sign_in_again(api, mailbox, rc, ALICE, PHONE_UA)
    return laptop, phone


def _sid(tokens: dict) -> str:
    return claims_of(tokens["access_token"])["sid"]


def _sessions(api: TestClient, tokens: dict) -> list[dict]:
    response = api.get("/api/account/sessions", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _me(api: TestClient, tokens: dict) -> int:
    return api.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code


def _refresh(api: TestClient, tokens: dict) -> int:
    return api.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code


def test_both_sign_ins_are_listed_with_their_device_and_the_current_one_marked(
    api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis,
) -> None:
    laptop, phone = _two_devices(api, mailbox, redis_client)
    items = _sessions(api, laptop)
    assert len(items) == 2
    by_id = {i["id"]: i for i in items}
    assert set(by_id) == {_sid(laptop), _sid(phone)}
    for item in items:
        assert set(item) == {"id", "device", "ip", "kind", "created_at", "last_seen_at", "current"}
        assert item["ip"] == "testclient" and item["kind"] == "api"
        datetime.fromisoformat(item["last_seen_at"])
        datetime.fromisoformat(item["created_at"])
    assert by_id[_sid(laptop)]["device"] == "Chrome on Linux"
    assert by_id[_sid(phone)]["device"] == "Safari on iPhone"
    assert [i["current"] for i in items if i["id"] == _sid(laptop)] == [True]
    assert [i["current"] for i in items if i["id"] == _sid(phone)] == [False]
    assert [i["id"] for i in _sessions(api, phone) if i["current"]] == [_sid(phone)]
    assert [i["id"] for i in items] == [_sid(phone), _sid(laptop)]  # most recently seen first

    refreshed = api.post("/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    after = _sessions(api, refreshed.json())
    assert [i["id"] for i in after] == [_sid(laptop), _sid(phone)]  # the laptop was just seen
    assert after[0]["last_seen_at"] > by_id[_sid(laptop)]["last_seen_at"] and after[0]["current"]


def test_ending_one_session_stops_its_tokens_and_keeps_the_other(
    api: TestClient, session: Session, mailbox: MailCatcher, redis_client: redis.Redis,
) -> None:
    laptop, phone = _two_devices(api, mailbox, redis_client)
    response = api.delete(f"/api/account/sessions/{_sid(phone)}", headers=bearer(laptop["access_token"]))
    assert response.status_code == 200, response.text
    assert response.json() == {"id": _sid(phone), "revoked": True}

    assert _me(api, phone) == 401
    assert api.get("/api/account/sessions", headers=bearer(phone["access_token"])).status_code == 401
    assert _refresh(api, phone) == 401
    redis_client.flushdb()  # the database alone refuses it too (Redis restarted: no cached principal)
    assert _me(api, phone) == 401 and _refresh(api, phone) == 401

    assert _me(api, laptop) == 200
    assert [i["id"] for i in _sessions(api, laptop)] == [_sid(laptop)]
    assert _refresh(api, laptop) == 200
    assert api.delete(f"/api/account/sessions/{_sid(phone)}", headers=bearer(laptop["access_token"])
                      ).status_code == 404  # already ended

    rows = session.exec(select(AuditLog).where(AuditLog.action == "auth.session_revoked")).all()
    assert [(r.tenant_id, r.user_id, r.actor, r.target, r.ip) for r in rows] == [
        (laptop["user"]["tenant_id"], laptop["user"]["user_id"], ALICE, _sid(phone), "testclient")]
    audit = api.get("/api/account/audit", headers=bearer(laptop["access_token"])).json()["items"]
    assert audit[0]["action"] == "auth.session_revoked" and audit[0]["target"] == _sid(phone)


def test_ending_the_current_session_signs_this_device_out(
    api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis,
) -> None:
    laptop, phone = _two_devices(api, mailbox, redis_client)
    assert api.delete(f"/api/account/sessions/{_sid(laptop)}", headers=bearer(laptop["access_token"])
                      ).status_code == 200
    assert _me(api, laptop) == 401 and _refresh(api, laptop) == 401
    assert _me(api, phone) == 200


def test_another_users_session_cannot_be_ended(
    api: TestClient, session: Session, mailbox: MailCatcher, redis_client: redis.Redis,
) -> None:
    alice, _ = _two_devices(api, mailbox, redis_client)
    bob = sign_in_again(api, mailbox, redis_client, BOB)
    for target in (_sid(bob), "0" * 32, "x" * 40):
        response = api.delete(f"/api/account/sessions/{target}", headers=bearer(alice["access_token"]))
        assert response.status_code == 404, (target, response.text)
    assert _me(api, bob) == 200 and _refresh(api, bob) == 200
    assert [i["id"] for i in _sessions(api, alice) if i["id"] == _sid(bob)] == []
    assert session.exec(select(AuditLog).where(AuditLog.action == "auth.session_revoked")).all() == []


def test_an_api_key_cannot_list_or_end_sessions(
    api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis,
) -> None:
    laptop, phone = _two_devices(api, mailbox, redis_client)
    key = api_key_headers(create_api_key(api, bearer(laptop["access_token"]))["key"])
    assert api.get("/api/account/sessions", headers=key).status_code == 403
    assert api.delete(f"/api/account/sessions/{_sid(phone)}", headers=key).status_code == 403
    assert _me(api, phone) == 200
