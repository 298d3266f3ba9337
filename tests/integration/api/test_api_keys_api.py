"""API keys over HTTP: shown once, stored only as a hash, tenant-scoped, rotated and revoked at once."""

from __future__ import annotations

import pytest
import redis
from factories import (
    api_key_headers,
    create_api_key,
    render_payload,
    sign_in_headers,
    submit_render,
    table_rows,
)
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import ApiKey, AuditLog, SQLModel
from saas_app.services.auth.tokens import sha256_hex

pytestmark = pytest.mark.db

ALICE = "alice@example.com"
BOB = "bob@example.com"


def _audit(session: Session, tenant_id: str, action: str) -> list[AuditLog]:
    session.expire_all()
    return list(session.exec(select(AuditLog).where(AuditLog.tenant_id == tenant_id, AuditLog.action == action)
                             .order_by(AuditLog.id)).all())


def _status(api: TestClient, secret: str, scheme: str = "bearer") -> int:
    return api.get("/api/usage", headers=api_key_headers(secret, scheme)).status_code


def test_the_secret_is_shown_once_and_never_stored_in_clear(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    made = create_api_key(api, headers, "Deploy bot")
    rotated = api.post(f"/api/account/api-keys/{made['id']}/rotate", headers=headers).json()
    default = api.post("/api/account/rotate-api-key", headers=headers).json()
    secrets_ = [made["key"], rotated["key"], default["key"]]
    for key in (made, rotated, default):
        assert key["key"].startswith(f"{key['prefix']}_") and key["prefix"].startswith("nsk_")
        assert len(key["key"]) > len(key["prefix"]) + 30

    listing = api.get("/api/account/api-keys", headers=headers)
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert {i["prefix"] for i in items} == {rotated["prefix"], default["prefix"]}
    assert all(set(i) == {"id", "name", "prefix", "is_default", "created_at", "last_used_at"} for i in items)
    for secret in secrets_:
        tail = secret.split("_", 2)[2]
        assert tail not in listing.text

    stored = table_rows(SQLModel.metadata.tables["apikey"]) + table_rows(SQLModel.metadata.tables["auditlog"])
    assert stored
    for secret in secrets_:
        tail = secret.split("_", 2)[2]
        for row in stored:
            for column, value in row.items():
                assert secret not in str(value) and tail not in str(value), f"secret in {column}: {row}"
    assert {r["key_hash"] for r in table_rows(SQLModel.metadata.tables["apikey"])} == {sha256_hex(s) for s in secrets_}


def test_a_key_authenticates_usage_and_renders_by_bearer_and_x_api_key(
    api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis,
) -> None:
    headers, user = sign_in_headers(api, mailbox, ALICE)
    key = create_api_key(api, headers)["key"]
    for scheme in ("bearer", "x-api-key"):
        usage = api.get("/api/usage", headers=api_key_headers(key, scheme))
        assert usage.status_code == 200, usage.text
        made = submit_render(api, api_key_headers(key, scheme))
        assert api.get(f"/api/renders/{made['id']}", headers=api_key_headers(key, scheme)).status_code == 200
        # Free runs one render at a time: end this one (with the key too) before the next.
        canceled = api.post(f"/api/renders/{made['id']}/cancel", headers=api_key_headers(key, scheme))
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    listed = api.get("/api/renders", headers=api_key_headers(key)).json()
    assert listed["total"] == 2
    assert api.get("/api/auth/me", headers=api_key_headers(key)).json()["tenant_id"] == user["tenant_id"]
    keys = api.get("/api/account/api-keys", headers=headers).json()["items"]
    assert keys[0]["last_used_at"] is not None


def test_bad_keys_are_401(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    key = create_api_key(api, headers)["key"]
    prefix, _, secret = key.rpartition("_")
    forged = f"{prefix}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    for bad in (forged, "nsk_deadbeef_" + secret, "nsk_nothing", prefix):
        assert _status(api, bad) == 401, bad
        assert _status(api, bad, "x-api-key") == 401, bad


def test_a_rotated_key_dies_at_once_and_its_successor_works(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    old = create_api_key(api, headers, "Nightly")
    assert _status(api, old["key"]) == 200

    new = api.post(f"/api/account/api-keys/{old['id']}/rotate", headers=headers)
    assert new.status_code == 200, new.text
    new_key = new.json()
    assert new_key["name"] == "Nightly" and new_key["prefix"] != old["prefix"]
    assert _status(api, old["key"]) == 401
    assert _status(api, old["key"], "x-api-key") == 401
    assert _status(api, new_key["key"]) == 200
    assert api.post(f"/api/account/api-keys/{old['id']}/rotate", headers=headers).status_code == 404


def test_a_revoked_key_is_401_and_leaves_the_list(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    key = create_api_key(api, headers)
    keep = create_api_key(api, headers, "Keep")
    response = api.delete(f"/api/account/api-keys/{key['id']}", headers=headers)
    assert response.status_code == 200 and response.json() == {"id": key["id"], "revoked": True}
    assert _status(api, key["key"]) == 401
    assert _status(api, key["key"], "x-api-key") == 401
    assert _status(api, keep["key"]) == 200
    assert [i["id"] for i in api.get("/api/account/api-keys", headers=headers).json()["items"]] == [keep["id"]]
    assert api.delete(f"/api/account/api-keys/{key['id']}", headers=headers).status_code == 404


def test_rotate_api_key_replaces_the_default_key(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    other = create_api_key(api, headers, "Not the default")
    first = api.post("/api/account/rotate-api-key", headers=headers)
    assert first.status_code == 200, first.text
    first_key = first.json()
    assert set(first_key) == {"id", "name", "prefix", "key"}
    assert _status(api, first_key["key"]) == 200

    second = api.post("/api/account/rotate-api-key", headers=headers).json()
    assert _status(api, first_key["key"]) == 401
    assert _status(api, second["key"]) == 200
    assert _status(api, other["key"]) == 200  # only the default key was replaced
    items = api.get("/api/account/api-keys", headers=headers).json()["items"]
    assert sorted((i["prefix"], i["is_default"]) for i in items) == sorted(
        [(second["prefix"], True), (other["prefix"], False)])


def test_a_key_only_sees_its_own_tenant(api: TestClient, mailbox: MailCatcher) -> None:
    alice, _ = sign_in_headers(api, mailbox, ALICE)
    bob, _ = sign_in_headers(api, mailbox, BOB)
    alice_key = api_key_headers(create_api_key(api, alice)["key"])
    bob_key = create_api_key(api, bob)
    mine = submit_render(api, alice_key)["id"]
    theirs = submit_render(api, bob)["id"]

    assert api.get(f"/api/renders/{theirs}", headers=alice_key).status_code == 404
    assert api.get(f"/api/renders/{theirs}/video", headers=alice_key).status_code == 404
    assert api.post(f"/api/renders/{theirs}/cancel", headers=alice_key).status_code == 404
    assert api.delete(f"/api/renders/{theirs}", headers=alice_key).status_code == 404
    assert [r["id"] for r in api.get("/api/renders", headers=alice_key).json()["items"]] == [mine]
    # Alice (signed in) cannot rotate or revoke Bob's key either.
    assert api.post(f"/api/account/api-keys/{bob_key['id']}/rotate", headers=alice).status_code == 404
    assert api.delete(f"/api/account/api-keys/{bob_key['id']}", headers=alice).status_code == 404
    assert _status(api, bob_key["key"]) == 200
    assert api.get(f"/api/renders/{theirs}", headers=bob).json()["status"] == "queued"


@pytest.mark.parametrize("scheme", ["bearer", "x-api-key"])
def test_a_key_is_refused_on_account_and_billing_routes(api: TestClient, mailbox: MailCatcher, scheme: str) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    key_row = create_api_key(api, headers)
    key = api_key_headers(key_row["key"], scheme)
    calls = [
        ("POST", "/api/account/export", None), ("GET", "/api/account/exports", None),
        ("POST", "/api/account/rotate-api-key", None), ("GET", "/api/account/api-keys", None),
        ("POST", "/api/account/api-keys", {"name": "escalate"}),
        ("DELETE", f"/api/account/api-keys/{key_row['id']}", None),
        ("POST", "/api/account/delete", {"confirm_email": ALICE}), ("GET", "/api/account/sessions", None),
        ("GET", "/api/account/audit", None), ("GET", "/api/account/backup-status", None),
        ("POST", "/api/billing/checkout", {"plan": "pro"}), ("POST", "/api/billing/portal", None),
        ("GET", "/api/billing/subscription", None), ("POST", "/api/auth/logout", None),
    ]
    for method, path, body in calls:
        response = api.request(method, path, json=body, headers=key)
        assert response.status_code == 403, (method, path, response.status_code, response.text)
        assert response.json()["error"] == "forbidden"
    assert _status(api, key_row["key"]) == 200  # nothing above revoked or replaced it
    assert len(api.get("/api/account/api-keys", headers=headers).json()["items"]) == 1


def test_key_changes_are_audited_with_the_actor(api: TestClient, session: Session, mailbox: MailCatcher) -> None:
    headers, user = sign_in_headers(api, mailbox, ALICE)
    made = create_api_key(api, headers, "Audited")
    rotated = api.post(f"/api/account/api-keys/{made['id']}/rotate", headers=headers).json()
    api.delete(f"/api/account/api-keys/{rotated['id']}", headers=headers)
    tenant_id = user["tenant_id"]

    expected = {"api_key.created": (made["prefix"], {}), "api_key.rotated": (rotated["prefix"],
                                                                             {"replaced": made["prefix"]}),
                "api_key.revoked": (rotated["prefix"], {})}
    for action, (target, details) in expected.items():
        rows = _audit(session, tenant_id, action)
        assert len(rows) == 1, action
        row = rows[0]
        assert (row.actor, row.user_id, row.target, row.ip) == (ALICE, user["user_id"], target, "testclient")
        assert row.request_id
        for name, value in details.items():
            assert f'"{name}": "{value}"' in row.details
    listed = api.get("/api/account/audit", headers=headers).json()["items"]
    assert [i["action"] for i in listed[:3]] == ["api_key.revoked", "api_key.rotated", "api_key.created"]


def test_a_render_made_with_a_key_is_audited_with_the_key_prefix(
    api: TestClient, session: Session, mailbox: MailCatcher,
) -> None:
    headers, user = sign_in_headers(api, mailbox, ALICE)
    key = create_api_key(api, headers)
    made = api.post("/api/renders", json=render_payload(), headers=api_key_headers(key["key"], "x-api-key"))
    assert made.status_code == 202, made.text
    rows = _audit(session, user["tenant_id"], "render.created")
    assert [(r.actor, r.target, r.user_id) for r in rows] == [(key["prefix"], made.json()["id"], user["user_id"])]
    # The key row is the tenant's, and the key's owner is the user who made it.
    stored = session.exec(select(ApiKey).where(ApiKey.prefix == key["prefix"])).one()
    assert (stored.tenant_id, stored.user_id) == (user["tenant_id"], user["user_id"])


def test_key_names_and_the_number_of_keys_are_limited(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    for name in ("", "   ", "x" * 81):
        response = api.post("/api/account/api-keys", json={"name": name}, headers=headers)
        assert response.status_code == 422, (name, response.text)
    made = [create_api_key(api, headers, f"Key {n}") for n in range(20)]
    over = api.post("/api/account/api-keys", json={"name": "One too many"}, headers=headers)
    assert over.status_code == 422 and "at most 20" in over.json()["message"]
    assert api.delete(f"/api/account/api-keys/{made[0]['id']}", headers=headers).status_code == 200
    create_api_key(api, headers, "Room again")  # a revoked key frees its place
    assert len(api.get("/api/account/api-keys", headers=headers).json()["items"]) == 20
