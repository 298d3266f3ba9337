"""Teams over HTTP: invite, the email, preview, sign in and accept; removal ending every credential in
that workspace at once (and no other); leaving; 402 seats, 429, 422 and 403 answers; the contract."""

from __future__ import annotations

import pytest
import redis
from factories import (
    api_key_headers,
    bearer,
    clear_rate_limits,
    create_api_key,
    emails_to,
    link_and_code,
    newest_email,
    set_plan,
    sign_in_headers,
    submit_render,
    text_part,
)
from fastapi.testclient import TestClient
from shared_helpers import SettingsOverride
from sqlmodel import Session
from team_flows import invite_api, invite_token, join_api, sign_in_api_fresh

from saas_app import routes
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import Render

pytestmark = pytest.mark.db

OWNER = "olivia@example.com"
INVITEE = "ivan@example.com"
SAME_SITE = {"Origin": "http://testserver"}


def _owner(api: TestClient, mailbox: MailCatcher, session: Session, plan: str = "pro") -> tuple[dict, dict]:
    headers, me = sign_in_headers(api, mailbox, OWNER)
    set_plan(session, me["tenant_id"], plan)
    return headers, me


def _cookie_sign_in(api: TestClient, smtp: MailCatcher, client: redis.Redis, email: str) -> None:
    """A browser sign-in (form post): the client keeps the HttpOnly cookie."""
    clear_rate_limits(client)
    before = emails_to(smtp, email)
    assert api.post("/api/auth/magic-link/request", json={"email": email}).status_code == 202
    _, token, _ = link_and_code(newest_email(smtp, email, before))
    response = api.post("/api/auth/session", data={"token": token}, headers=SAME_SITE, follow_redirects=False)
    assert response.status_code == 303, response.text


def test_invite_email_sign_in_accept_and_see_the_workspace(
    api: TestClient, mailbox: MailCatcher, session: Session, redis_client: redis.Redis,
) -> None:
    owner, owner_me = _owner(api, mailbox, session)
    made = submit_render(api, owner)
    token = invite_api(api, owner, mailbox, INVITEE)
    assert routes.absolute(routes.invite_link(token)) in text_part(mailbox.wait_for(INVITEE))
    preview = api.get(f"/api/invitations/{token}")  # no sign-in needed
    assert preview.status_code == 200 and preview.json()["email"] == INVITEE
    assert preview.json()["inviter_email"] == OWNER and preview.json()["status"] == "pending"

    tokens = sign_in_api_fresh(api, mailbox, redis_client, INVITEE)
    assert tokens["user"]["tenant_id"] != owner_me["tenant_id"]  # their own workspace first
    accepted = api.post(f"/api/invitations/{token}/accept", headers=bearer(tokens["access_token"]))
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["tenant_id"] == owner_me["tenant_id"] and body["user"]["roles"] == ["member"]
    old = api.get("/api/auth/me", headers=bearer(tokens["access_token"]))
    assert old.status_code == 401  # the access token named the workspace this session left
    invitee = bearer(body["tokens"]["access_token"])
    assert api.get("/api/auth/me", headers=invitee).json()["tenant_id"] == owner_me["tenant_id"]
    listed = api.get("/api/renders", headers=invitee)
    assert listed.status_code == 200 and made["id"] in listed.text
    checkout = api.post("/api/billing/checkout", json={"plan": "enterprise"}, headers=invitee)
    assert checkout.status_code == 403
    assert checkout.json()["message"] == "Only an owner of this workspace can manage its plan and billing."
    again = api.post(f"/api/invitations/{token}/accept", headers=invitee)
    assert again.status_code == 409
    people = api.get("/api/team/members", headers=owner).json()
    assert [(p["email"], p["role"], p["is_you"]) for p in people] == [(OWNER, "owner", True),
                                                                        (INVITEE, "member", False)]
    assert api.get("/api/team/invitations", headers=owner).json() == []


def test_removal_ends_token_cookie_and_key_in_that_workspace_only(
    api: TestClient, mailbox: MailCatcher, session: Session, redis_client: redis.Redis,
) -> None:
    owner, owner_me = _owner(api, mailbox, session)
    invitee, me = join_api(api, owner, mailbox, redis_client, INVITEE, role="admin")
    key = create_api_key(api, invitee)["key"]
    made = submit_render(api, invitee)
    _cookie_sign_in(api, mailbox, redis_client, INVITEE)  # opens where they were last active: the team
    assert api.get("/api/auth/me").json()["tenant_id"] == owner_me["tenant_id"]
    home = sign_in_api_fresh(api, mailbox, redis_client, INVITEE)
    home_tenant = next(w["tenant_id"] for w in api.get("/api/workspaces", headers=bearer(home["access_token"])).json()
                       if w["tenant_id"] != owner_me["tenant_id"])
    switched = api.post(f"/api/workspaces/{home_tenant}/switch", headers=bearer(home["access_token"])).json()
    home_headers = bearer(switched["tokens"]["access_token"])

    assert api.get("/api/usage", headers=api_key_headers(key)).status_code == 200  # each credential proved once
    assert api.get("/api/renders", headers=invitee).status_code == 200
    removed = api.delete(f"/api/team/members/{me['user_id']}", headers=owner)
    assert removed.status_code == 200 and removed.json() == {"user_id": me["user_id"], "removed": True}
    assert api.get("/api/renders", headers=invitee).status_code == 401
    assert api.get("/api/auth/me").status_code == 401  # the browser cookie
    assert api.get("/api/usage", headers=api_key_headers(key)).status_code == 401
    assert api.get("/api/auth/me", headers=home_headers).json()["tenant_id"] == home_tenant  # elsewhere: fine
    kept = session.get(Render, made["id"])
    assert kept is not None and kept.tenant_id == owner_me["tenant_id"]
    assert made["id"] in api.get("/api/renders", headers=owner).text


def test_leaving_answers_new_tokens_for_the_next_workspace(
    api: TestClient, mailbox: MailCatcher, session: Session, redis_client: redis.Redis,
) -> None:
    owner, owner_me = _owner(api, mailbox, session)
    invitee, _ = join_api(api, owner, mailbox, redis_client, INVITEE)
    left = api.post("/api/team/leave", headers=invitee)
    assert left.status_code == 200, left.text
    body = left.json()
    assert body["tenant_id"] != owner_me["tenant_id"] and body["tokens"]["user"]["tenant_id"] == body["tenant_id"]
    assert api.get("/api/auth/me", headers=invitee).status_code == 401
    assert len(api.get("/api/team/members", headers=owner).json()) == 1
    alone = api.post("/api/team/leave", headers=owner)
    assert alone.status_code == 409 and "Delete the workspace instead" in alone.json()["message"]


def test_a_full_free_plan_answers_402_with_the_upgrade_path(
    api: TestClient, mailbox: MailCatcher, session: Session,
) -> None:
    owner, _ = _owner(api, mailbox, session, plan="free")
    response = api.post("/api/team/invitations", json={"email": INVITEE, "role": "member"}, headers=owner)
    assert response.status_code == 402
    body = response.json()
    assert body["error"] == "seat_limit_reached" and body["seats"] == 1
    assert body["upgrade_url"] == routes.absolute(routes.BILLING) and "Upgrade to Pro for 5 seats" in body["message"]
    assert emails_to(mailbox, INVITEE) == 0


def test_too_many_invitations_answer_429(
    api: TestClient, mailbox: MailCatcher, session: Session, app_settings: SettingsOverride,
) -> None:
    app_settings.set(INVITES_PER_INVITER_PER_HOUR=1)
    owner, _ = _owner(api, mailbox, session)
    invite_api(api, owner, mailbox, "a@example.com")
    response = api.post("/api/team/invitations", json={"email": "b@example.com"}, headers=owner)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert response.json()["message"].startswith("You have sent too many invitations this hour. Please wait.")


def test_each_invitation_limit_says_which_one_was_reached(
    api: TestClient, mailbox: MailCatcher, session: Session, app_settings: SettingsOverride,
) -> None:
    """One address gets at most INVITES_PER_ADDRESS_PER_HOUR emails (resends included); the workspace's
    limit is named as the workspace's; a refusal counts against no other limit."""
    app_settings.set(INVITES_PER_ADDRESS_PER_HOUR=2, INVITES_PER_WORKSPACE_PER_HOUR=3)
    owner, _ = _owner(api, mailbox, session)
    invite_api(api, owner, mailbox, "a@example.com")
    [pending] = api.get("/api/team/invitations", headers=owner).json()
    assert api.post(f"/api/team/invitations/{pending['id']}/resend", headers=owner).status_code == 200
    again = api.post(f"/api/team/invitations/{pending['id']}/resend", headers=owner)
    assert again.status_code == 429
    assert again.json()["message"].startswith("a@example.com has already been sent 2 invitation emails this hour")
    invite_api(api, owner, mailbox, "b@example.com")  # the refused resend counted nothing: 3rd of 3 here
    full = api.post("/api/team/invitations", json={"email": "c@example.com"}, headers=owner)
    assert full.status_code == 429
    assert full.json()["message"].startswith("Too many invitations were sent from this workspace this hour.")


def test_an_empty_address_asks_for_the_invitees_address(api: TestClient, mailbox: MailCatcher,
                                                        session: Session) -> None:
    owner, _ = _owner(api, mailbox, session)
    response = api.post("/api/team/invitations", json={"email": "  ", "role": "member"}, headers=owner)
    assert response.status_code == 422
    assert response.json()["message"] == "Enter the email address of the person to invite."


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("post", "/api/team/invitations", {"email": "nope", "role": "member"}, "email"),
    ("post", "/api/team/invitations", {"email": INVITEE, "role": "boss"}, "role"),
    ("patch", "/api/team/members/{owner}", {"role": "boss"}, "role"),
])
def test_bad_input_answers_422_naming_the_field(api: TestClient, mailbox: MailCatcher, session: Session,
                                                method: str, path: str, body: dict, field: str) -> None:
    owner, me = _owner(api, mailbox, session)
    response = api.request(method.upper(), path.format(owner=me["user_id"]), json=body, headers=owner)
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == field


def test_api_keys_cannot_use_team_routes(api: TestClient, mailbox: MailCatcher, session: Session) -> None:
    owner, _ = _owner(api, mailbox, session)
    key = api_key_headers(create_api_key(api, owner)["key"])
    for method, path in [("GET", "/api/team/members"), ("GET", "/api/team/invitations"),
                         ("POST", "/api/team/leave"), ("POST", "/api/invitations/abc/accept")]:
        response = api.request(method, path, headers=key, json={} if method == "POST" else None)
        assert response.status_code == 403, (path, response.text)


def test_an_unknown_or_replaced_link_answers_404(
    api: TestClient, mailbox: MailCatcher, session: Session, redis_client: redis.Redis,
) -> None:
    owner, _ = _owner(api, mailbox, session)
    old = invite_api(api, owner, mailbox, INVITEE)
    invitation_id = api.get("/api/team/invitations", headers=owner).json()[0]["id"]
    before = emails_to(mailbox, INVITEE)
    assert api.post(f"/api/team/invitations/{invitation_id}/resend", headers=owner).status_code == 200
    new = invite_token(newest_email(mailbox, INVITEE, before))
    assert api.get(f"/api/invitations/{old}").status_code == 404
    assert api.get(f"/api/invitations/{new}").status_code == 200
    assert api.delete(f"/api/team/invitations/{invitation_id}", headers=owner).status_code == 200
    assert api.get(f"/api/invitations/{new}").json()["status"] == "revoked"
    tokens = sign_in_api_fresh(api, mailbox, redis_client, INVITEE)
    gone = api.post(f"/api/invitations/{new}/accept", headers=bearer(tokens["access_token"]))
    assert gone.status_code == 410


def test_the_team_routes_are_in_the_openapi_document(api: TestClient) -> None:
    spec = api.get("/api/openapi.json").json()
    paths = spec["paths"]
    for path, method in [("/api/team/members", "get"), ("/api/team/members/{user_id}", "patch"),
                         ("/api/team/members/{user_id}", "delete"), ("/api/team/leave", "post"),
                         ("/api/team/invitations", "get"), ("/api/team/invitations", "post"),
                         ("/api/team/invitations/{invitation_id}/resend", "post"),
                         ("/api/team/invitations/{invitation_id}", "delete"),
                         ("/api/invitations/{token}", "get"), ("/api/invitations/{token}/accept", "post")]:
        operation = paths[path][method]
        ok = next(code for code in operation["responses"] if code.startswith("2"))
        assert "content" in operation["responses"][ok], (path, method)
    assert "402" in paths["/api/team/invitations"]["post"]["responses"]
    assert {"MemberView", "InvitationView", "InvitationPreview"} <= set(spec["components"]["schemas"])


def test_a_role_change_applies_to_the_next_request_of_an_open_session(
    api: TestClient, mailbox: MailCatcher, session: Session, redis_client: redis.Redis,
) -> None:
    owner, _ = _owner(api, mailbox, session)
    member, me = join_api(api, owner, mailbox, redis_client, INVITEE)
    assert api.get("/api/team/invitations", headers=member).status_code == 403  # proved (and cached) as member
    promoted = api.patch(f"/api/team/members/{me['user_id']}", json={"role": "admin"}, headers=owner)
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert api.get("/api/team/invitations", headers=member).status_code == 200
    api.patch(f"/api/team/members/{me['user_id']}", json={"role": "member"}, headers=owner)
    assert api.get("/api/account/api-keys", headers=member).status_code == 403
