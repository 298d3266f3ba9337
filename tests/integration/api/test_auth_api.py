"""The sign-in API over HTTP: magic links, tokens, refresh, sign-out, rate limits, audit."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time

import pytest
import redis
from factories import (
    age_refresh_rotation,
    bearer,
    claims_of,
    clear_rate_limits,
    emails_to,
    link_and_code,
    make_user,
    sign_in_api,
    sign_jwt,
    tenant_id_of,
    unsigned_jwt,
)
from fastapi.testclient import TestClient
from shared_helpers import SettingsOverride
from sqlmodel import Session, select

from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import AuditLog, MagicLink, User
from saas_app.settings import Settings, get_settings

pytestmark = pytest.mark.db

EMAIL = "linus@example.com"
REQUEST = "/api/auth/magic-link/request"
VERIFY = "/api/auth/magic-link/verify"


def _request(api: TestClient, email: str, **headers: str):  # type: ignore[no-untyped-def]
    return api.post(REQUEST, json={"email": email}, headers=headers)


def _email_link(api: TestClient, smtp: MailCatcher, email: str) -> tuple[str, str]:
    before = emails_to(smtp, email)
    assert _request(api, email).status_code == 202
    _, token, code = link_and_code(smtp.wait_for(email, timeout=5, count=before + 1))
    return token, code


def _assert_token_json(body: dict, email: str) -> None:
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 24 * 3600
    assert body["access_token"] != body["refresh_token"]
    assert set(body["user"]) == {"user_id", "tenant_id", "email", "roles", "plan"}
    assert body["user"]["email"] == email and body["user"]["roles"] == ["owner"] and body["user"]["plan"] == "free"


def _unauthorized(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized" and response.json()["message"]


def test_request_answers_the_same_for_known_and_unknown_addresses(
    api: TestClient, session: Session, mailbox: MailCatcher
) -> None:
    make_user(session, email="known@example.com")
    known, unknown = _request(api, "known@example.com"), _request(api, "unknown@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json() == {
        "status": "sent", "message": "If the address can receive email, a sign-in link is on its way."}
    mailbox.wait_for("known@example.com", timeout=5)
    mailbox.wait_for("unknown@example.com", timeout=5)


@pytest.mark.parametrize("body", [{"email": "not-an-email"}, {"email": ""}, {"email": "a@b"}, {}])
def test_bad_email_is_a_readable_422(api: TestClient, session: Session, mailbox: MailCatcher, body: dict) -> None:
    response = api.post(REQUEST, json=body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] in {"validation_error", "invalid_input"}
    assert "email" in payload["message"].lower() and "\n" not in payload["message"]
    assert [f["field"] for f in payload["fields"]] == ["email"]
    assert mailbox.messages() == [] and session.exec(select(MagicLink)).all() == []


def test_verify_by_token(api: TestClient, mailbox: MailCatcher) -> None:
    body = sign_in_api(api, mailbox, EMAIL)
    _assert_token_json(body, EMAIL)
    assert api.get("/api/auth/me", headers=bearer(body["access_token"])).json() == body["user"]


def test_verify_by_email_and_code(api: TestClient, mailbox: MailCatcher) -> None:
    _, code = _email_link(api, mailbox, EMAIL)
    response = api.post(VERIFY, json={"email": EMAIL.upper(), "code": code})
    assert response.status_code == 200, response.text
    _assert_token_json(response.json(), EMAIL)


def test_verify_needs_a_token_or_an_email_and_code(api: TestClient) -> None:
    response = api.post(VERIFY, json={"email": EMAIL})
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error" and "token" in response.json()["message"]


def test_a_used_or_unknown_link_is_401(api: TestClient, mailbox: MailCatcher) -> None:
    token, code = _email_link(api, mailbox, EMAIL)
    assert api.post(VERIFY, json={"token": token}).status_code == 200
    reused = api.post(VERIFY, json={"token": token})
    assert reused.status_code == 401 and reused.json()["error"] == "link_invalid"
    assert api.post(VERIFY, json={"email": EMAIL, "code": code}).status_code == 401
    assert api.post(VERIFY, json={"token": "made-up"}).status_code == 401


def test_me(api: TestClient, session: Session, mailbox: MailCatcher) -> None:
    body = sign_in_api(api, mailbox, EMAIL)
    me = api.get("/api/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    user = session.exec(select(User).where(User.email == EMAIL)).one()
    assert me.json() == {"user_id": user.id, "tenant_id": tenant_id_of(user), "email": EMAIL,
                         "roles": ["owner"], "plan": "free"}
    _unauthorized(api.get("/api/auth/me"))
    _unauthorized(api.get("/api/auth/me", headers={"Authorization": "Basic dXNlcjpwYXNz"}))
    _unauthorized(api.get("/api/auth/me", headers={"Authorization": "Bearer "}))


def test_tampered_tokens_are_401(api: TestClient, mailbox: MailCatcher) -> None:
    body = sign_in_api(api, mailbox, EMAIL)
    claims = claims_of(body["access_token"])
    assert api.get("/api/auth/me", headers=bearer(sign_jwt(claims))).status_code == 200  # control
    now = int(time.time())
    forged = {
        "alg none": unsigned_jwt(claims),
        "wrong signature": sign_jwt(claims, secret="not-the-app-secret-but-long-enough-000"),
        "refresh as access": body["refresh_token"],
        "expired": sign_jwt({**claims, "iat": now - 7200, "exp": now - 60}),
        "other audience": sign_jwt({**claims, "aud": "another-api"}),
    }
    for name, token in forged.items():
        response = api.get("/api/auth/me", headers=bearer(token))
        assert response.status_code == 401, name
    expired = api.get("/api/auth/me", headers=bearer(forged["expired"]))
    assert "expired" in expired.json()["message"]


def test_refresh_rotates_and_reuse_revokes_the_family(api: TestClient, session: Session,
                                                      mailbox: MailCatcher) -> None:
    first = sign_in_api(api, mailbox, EMAIL)
    rotated = api.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    _assert_token_json(second, EMAIL)
    assert api.get("/api/auth/me", headers=bearer(second["access_token"])).status_code == 200

    age_refresh_rotation(session, first["refresh_token"])  # reuse after the grace window
    _unauthorized(api.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]}))
    _unauthorized(api.get("/api/auth/me", headers=bearer(second["access_token"])))
    _unauthorized(api.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]}))
    _unauthorized(api.post("/api/auth/refresh", json={"refresh_token": first["access_token"]}))


def _refresh_at_once(token: str, callers: int) -> list[tuple[int, dict]]:
    """`callers` clients (each its own app instance and thread) refresh with `token` at the same moment."""
    from saas_app.api.app import create_api

    barrier = threading.Barrier(callers)
    answers: list[tuple[int, dict]] = []

    def post() -> None:
        with TestClient(create_api(), base_url="http://testserver") as client:
            barrier.wait()
            response = client.post("/api/auth/refresh", json={"refresh_token": token})
            answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=post) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_refreshes_with_one_token_all_get_working_tokens(api: TestClient, session: Session,
                                                                     mailbox: MailCatcher) -> None:
    """Two tabs refreshing at once: the same rotation, so every answer is 200 with tokens that work."""
    first = sign_in_api(api, mailbox, EMAIL)
    answers = _refresh_at_once(first["refresh_token"], callers=2)
    assert [status for status, _ in answers] == [200, 200], answers
    pairs = [body for _, body in answers]
    assert len({p["refresh_token"] for p in pairs}) == 2
    for pair in pairs:
        assert api.get("/api/auth/me", headers=bearer(pair["access_token"])).status_code == 200
    renewed = [api.post("/api/auth/refresh", json={"refresh_token": p["refresh_token"]}) for p in pairs]
    assert [r.status_code for r in renewed] == [200, 200]
    for response in renewed:
        assert api.get("/api/auth/me", headers=bearer(response.json()["access_token"])).status_code == 200

    age_refresh_rotation(session, first["refresh_token"])  # the same token again, after the window
    _unauthorized(api.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]}))
    for response in renewed:
        _unauthorized(api.get("/api/auth/me", headers=bearer(response.json()["access_token"])))
        _unauthorized(api.post("/api/auth/refresh", json={"refresh_token": response.json()["refresh_token"]}))


def test_logout_ends_this_session_only(api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis) -> None:
    ending = sign_in_api(api, mailbox, EMAIL)
    clear_rate_limits(redis_client)
    staying = sign_in_api(api, mailbox, EMAIL)
    response = api.post("/api/auth/logout", headers=bearer(ending["access_token"]))
    assert response.status_code == 200 and response.json() == {"status": "signed_out"}
    _unauthorized(api.get("/api/auth/me", headers=bearer(ending["access_token"])))
    _unauthorized(api.post("/api/auth/refresh", json={"refresh_token": ending["refresh_token"]}))
    assert api.get("/api/auth/me", headers=bearer(staying["access_token"])).status_code == 200


def test_logout_all_refuses_every_earlier_token(api: TestClient, mailbox: MailCatcher,
                                                redis_client: redis.Redis) -> None:
    one = sign_in_api(api, mailbox, EMAIL)
    clear_rate_limits(redis_client)
    two = sign_in_api(api, mailbox, EMAIL)
    response = api.post("/api/auth/logout-all", headers=bearer(one["access_token"]))
    assert response.json() == {"status": "signed_out_everywhere", "sessions_ended": 2}
    for flushed in (False, True):
        if flushed:
            redis_client.flushdb()
        for pair in (one, two):
            _unauthorized(api.get("/api/auth/me", headers=bearer(pair["access_token"])))
            _unauthorized(api.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}))
    clear_rate_limits(redis_client)  # time passes: the sign-in email limits survived the flush
    fresh = sign_in_api(api, mailbox, EMAIL)
    assert api.get("/api/auth/me", headers=bearer(fresh["access_token"])).status_code == 200


def test_second_email_within_a_minute_is_429(api: TestClient, mailbox: MailCatcher) -> None:
    assert _request(api, EMAIL).status_code == 202
    refused = _request(api, " Linus@Example.com ")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"] == "rate_limited" and refused.json()["retry_after"] > 0
    assert re.search(r"Try again in (a few seconds|about \d\d? seconds|about 1 minute)\.$",
                     refused.json()["message"]), refused.json()["message"]
    assert len(mailbox.messages()) == 1


def test_sixth_email_in_an_hour_is_429(api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis) -> None:
    minute_key = f"rl:ml:em:{hashlib.sha256(EMAIL.encode()).hexdigest()}:m"
    for _ in range(5):
        assert _request(api, EMAIL).status_code == 202
        assert redis_client.delete(minute_key) == 1  # a minute passes
    refused = _request(api, EMAIL)
    assert refused.status_code == 429
    assert 60 < int(refused.headers["Retry-After"]) <= 3600
    assert len(mailbox.messages()) == 5


def test_the_per_ip_limit_is_a_setting_and_its_wait_is_in_plain_words(
    api: TestClient, mailbox: MailCatcher, app_settings: SettingsOverride,
) -> None:
    app_settings.set(RATE_IP_PER_HOUR=3)
    for n in range(3):
        assert _request(api, f"person{n}@example.com").status_code == 202
    refused = _request(api, "person3@example.com")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
    assert refused.json()["message"] == ("Too many sign-in emails. Please wait before asking again. "
                                         "Try again in about 1 hour.")
    assert len(mailbox.messages()) == 3


def test_a_shared_network_does_not_lock_out_a_new_address(api: TestClient, mailbox: MailCatcher,
                                                          app_settings: SettingsOverride) -> None:
    """Sixty people behind one address (an office, a school) ask for a link within the hour: all get one."""
    app_settings.set(RATE_IP_PER_HOUR=Settings.model_fields["RATE_IP_PER_HOUR"].default)  # the tests pin 20
    for n in range(60):
        assert _request(api, f"colleague{n}@example.com").status_code == 202, n
    assert _request(api, "newcomer@example.com").status_code == 202
    assert len(mailbox.messages()) == 61


def test_mail_server_down_is_503_and_keeps_the_previous_link(
    api: TestClient, session: Session, mailbox: MailCatcher, redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token, _ = _email_link(api, mailbox, EMAIL)
    clear_rate_limits(redis_client)
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    monkeypatch.setattr(get_settings(), "SMTP_PORT", dead_port)
    response = _request(api, EMAIL)
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert response.json()["error"] == "service_unavailable" and "email" in response.json()["message"]
    assert len(session.exec(select(MagicLink)).all()) == 1  # nothing stored, nothing voided
    assert len(session.exec(select(AuditLog).where(AuditLog.action == "auth.link_requested")).all()) == 1
    assert api.post(VERIFY, json={"token": token}).status_code == 200


def test_a_failed_send_does_not_use_up_the_limits(
    api: TestClient, session: Session, mailbox: MailCatcher, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    monkeypatch.setattr(get_settings(), "SMTP_PORT", dead_port)
    for _ in range(3):  # more than the per-minute limit of one
        assert _request(api, EMAIL).status_code == 503
    monkeypatch.undo()
    assert _request(api, EMAIL).status_code == 202  # nothing was sent, so nothing was counted
    mailbox.wait_for(EMAIL, timeout=5)
    assert _request(api, EMAIL).status_code == 429  # the one that was sent counts


@pytest.mark.parametrize("spelling", ["qa@bücher.example", "QA@xn--BCHER-kva.example"])
def test_an_international_domain_is_one_identity_mailed_in_ascii(
    api: TestClient, session: Session, mailbox: MailCatcher, redis_client: redis.Redis, spelling: str,
) -> None:
    """The mail catcher, like many relays, has no SMTPUTF8: mail must go to the IDNA form."""
    ascii_form = "qa@xn--bcher-kva.example"
    assert _request(api, "qa@bücher.example").status_code == 202
    _, token, _ = link_and_code(mailbox.wait_for(ascii_form, timeout=5))
    first = api.post(VERIFY, json={"token": token}).json()
    assert first["user"]["email"] == ascii_form
    clear_rate_limits(redis_client)
    assert _request(api, spelling).status_code == 202
    message = mailbox.wait_for(ascii_form, timeout=5, count=2)
    assert message["To"] == ascii_form
    _, _, code = link_and_code(message)
    again = api.post(VERIFY, json={"email": spelling, "code": code})
    assert again.status_code == 200, again.text
    assert again.json()["user"]["user_id"] == first["user"]["user_id"]
    assert [u.email for u in session.exec(select(User)).all()] == [ascii_form]


def test_a_local_part_over_64_characters_is_422(api: TestClient, session: Session, mailbox: MailCatcher) -> None:
    response = _request(api, "a" * 65 + "@example.com")
    assert response.status_code == 422, response.text
    assert "64" in response.json()["message"] and [f["field"] for f in response.json()["fields"]] == ["email"]
    assert _request(api, "a" * 64 + "@example.com").status_code == 202
    assert len(session.exec(select(MagicLink)).all()) == 1


def test_sign_in_events_are_audited_with_who_and_where(api: TestClient, session: Session, mailbox: MailCatcher,
                                                       redis_client: redis.Redis) -> None:
    agent = {"User-Agent": "audit-probe/1.0", "X-Request-ID": "probe42"}
    first = sign_in_api(api, mailbox, EMAIL, headers=agent)
    clear_rate_limits(redis_client)
    assert _request(api, EMAIL, **agent).status_code == 202  # now a known address
    api.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]}, headers=agent)
    age_refresh_rotation(session, first["refresh_token"])
    api.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]}, headers=agent)
    clear_rate_limits(redis_client)
    second = sign_in_api(api, mailbox, EMAIL, headers=agent)
    assert api.post("/api/auth/logout", headers={**agent, **bearer(second["access_token"])}).status_code == 200
    clear_rate_limits(redis_client)
    third = sign_in_api(api, mailbox, EMAIL, headers=agent)
    assert api.post("/api/auth/logout-all", headers={**agent, **bearer(third["access_token"])}).status_code == 200

    user = first["user"]
    rows = session.exec(select(AuditLog).where(AuditLog.tenant_id == user["tenant_id"])).all()
    actions = {row.action for row in rows}
    assert {"auth.link_requested", "auth.signed_in", "auth.refresh_reuse_detected", "auth.logout",
            "auth.logout_all"} <= actions
    for row in rows:
        assert (row.tenant_id, row.user_id) == (user["tenant_id"], user["user_id"]), row.action
        assert (row.ip, row.user_agent, row.request_id) == ("testclient", "audit-probe/1.0", "probe42"), row.action


def test_every_response_carries_a_request_id(api: TestClient) -> None:
    assert api.get("/api/auth/me", headers={"X-Request-ID": "abc123"}).headers["X-Request-ID"] == "abc123"
    generated = api.get("/api/auth/me", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert generated != "bad id!" and generated.isalnum()
