"""Every role-gated action over HTTP for every role: the status when allowed, else 403 in plain words.

Each case is a real workspace on Pro: its owner signs in over HTTP (magic link from the SMTP catcher),
the acting admin or member and a second member join through real invitations, one invitation stays
pending, and the owner holds an API key. The table below is the product's role rules as the API shows
them; `services/teams/permissions.py` is where they are defined.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis
from factories import create_api_key, render_payload, set_plan, sign_in_headers
from fastapi.testclient import TestClient
from sqlmodel import Session
from stripe_server import app_env, reset_stripe, stripe_call, stripe_server  # noqa: F401  (session fixture)
from team_flows import invite_api, join_api

from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import Tenant
from saas_app.settings import get_settings

pytestmark = pytest.mark.db

OWNER, ACTOR, TARGET = "olivia@example.com", "alex@example.com", "tara@example.com"
ALL, MANAGERS, OWNERS = {"owner", "admin", "member"}, {"owner", "admin"}, {"owner"}
MEMBERS_MSG = "Only an owner or admin of this workspace can manage its members and invitations."
OWNERS_MSG = "Only an owner of this workspace can make or remove owners."
KEYS_MSG = "Only an owner or admin of this workspace can manage its API keys."
AUDIT_MSG = "Only an owner or admin of this workspace can see its activity log."
BILLING_MSG = "Only an owner of this workspace can manage its plan and billing."
BACKUPS_MSG = "Only an owner of this workspace can see its backups."
DELETE_MSG = "Only an owner of this workspace can delete it."


@dataclass
class Workspace:
    """One case's workspace: the acting person's headers and the ids the actions need."""

    api: TestClient
    actor: dict[str, str]
    actor_email: str
    target_id: str
    invitation_id: str
    key_id: str


Call = Callable[[Workspace], httpx.Response]
# action: (request, roles allowed, status when allowed, refusal message)
ACTIONS: dict[str, tuple[Call, set[str], int, str]] = {
    "list members": (lambda w: w.api.get("/api/team/members", headers=w.actor), ALL, 200, ""),
    "invite": (lambda w: w.api.post("/api/team/invitations", json={"email": "new@example.com", "role": "member"},
                                    headers=w.actor), MANAGERS, 201, MEMBERS_MSG),
    "list invitations": (lambda w: w.api.get("/api/team/invitations", headers=w.actor), MANAGERS, 200, MEMBERS_MSG),
    "resend invitation": (lambda w: w.api.post(f"/api/team/invitations/{w.invitation_id}/resend", headers=w.actor),
                          MANAGERS, 200, MEMBERS_MSG),
    "revoke invitation": (lambda w: w.api.delete(f"/api/team/invitations/{w.invitation_id}", headers=w.actor),
                          MANAGERS, 200, MEMBERS_MSG),
    "change role": (lambda w: w.api.patch(f"/api/team/members/{w.target_id}", json={"role": "admin"},
                                          headers=w.actor), MANAGERS, 200, MEMBERS_MSG),
    "make an owner": (lambda w: w.api.patch(f"/api/team/members/{w.target_id}", json={"role": "owner"},
                                            headers=w.actor), OWNERS, 200, "owners"),
    "remove member": (lambda w: w.api.delete(f"/api/team/members/{w.target_id}", headers=w.actor),
                      MANAGERS, 200, MEMBERS_MSG),
    "create API key": (lambda w: w.api.post("/api/account/api-keys", json={"name": "bot"}, headers=w.actor),
                       MANAGERS, 201, KEYS_MSG),
    "list API keys": (lambda w: w.api.get("/api/account/api-keys", headers=w.actor), MANAGERS, 200, KEYS_MSG),
    "rotate API key": (lambda w: w.api.post(f"/api/account/api-keys/{w.key_id}/rotate", headers=w.actor),
                       MANAGERS, 200, KEYS_MSG),
    "revoke API key": (lambda w: w.api.delete(f"/api/account/api-keys/{w.key_id}", headers=w.actor),
                       MANAGERS, 200, KEYS_MSG),
    "activity log": (lambda w: w.api.get("/api/account/audit", headers=w.actor), MANAGERS, 200, AUDIT_MSG),
    "backups": (lambda w: w.api.get("/api/account/backup-status", headers=w.actor), OWNERS, 200, BACKUPS_MSG),
    "billing checkout": (lambda w: w.api.post("/api/billing/checkout", json={"plan": "enterprise"}, headers=w.actor),
                         OWNERS, 200, BILLING_MSG),
    "billing portal": (lambda w: w.api.post("/api/billing/portal", headers=w.actor), OWNERS, 200, BILLING_MSG),
    "see the plan": (lambda w: w.api.get("/api/billing/subscription", headers=w.actor), ALL, 200, ""),
    "schedule workspace deletion": (lambda w: w.api.post("/api/account/delete", json={"confirm_email": w.actor_email},
                                                         headers=w.actor), OWNERS, 202, DELETE_MSG),
    "create render": (lambda w: w.api.post("/api/renders", json=render_payload(), headers=w.actor), ALL, 202, ""),
    "list renders": (lambda w: w.api.get("/api/renders", headers=w.actor), ALL, 200, ""),
    "usage": (lambda w: w.api.get("/api/usage", headers=w.actor), ALL, 200, ""),
    "list assets": (lambda w: w.api.get("/api/assets", headers=w.actor), ALL, 200, ""),
    "list workspaces": (lambda w: w.api.get("/api/workspaces", headers=w.actor), ALL, 200, ""),
}


@pytest.fixture
def billing(stripe_server: str) -> Iterator[str]:  # noqa: F811
    """The app pointed at the local Stripe (emptied first)."""
    reset_stripe(stripe_server)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in app_env(stripe_server).items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        yield stripe_server
    get_settings.cache_clear()


def _workspace(api: TestClient, smtp: MailCatcher, client: redis.Redis, session: Session, stripe: str,
               role: str) -> Workspace:
    owner, me = sign_in_headers(api, smtp, OWNER)
    set_plan(session, me["tenant_id"], "pro")
    tenant = session.get(Tenant, me["tenant_id"])
    assert tenant is not None
    tenant.stripe_customer_id = stripe_call(stripe, "POST", "/v1/customers", data={"email": OWNER})["id"]
    session.add(tenant)
    session.commit()
    actor, actor_email = owner, OWNER
    if role != "owner":
        actor, _ = join_api(api, owner, smtp, client, ACTOR, role=role)
        actor_email = ACTOR
    _, target = join_api(api, owner, smtp, client, TARGET, role="member")
    invite_api(api, owner, smtp, "pending@example.com")
    invitation_id = api.get("/api/team/invitations", headers=owner).json()[0]["id"]
    key_id = create_api_key(api, owner)["id"]
    return Workspace(api, actor, actor_email, target["user_id"], invitation_id, key_id)


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_role_action_matrix(api: TestClient, mailbox: MailCatcher, redis_client: redis.Redis, session: Session,
                            billing: str, role: str, action: str) -> None:
    call, allowed, ok_status, refusal = ACTIONS[action]
    workspace = _workspace(api, mailbox, redis_client, session, billing, role)
    response = call(workspace)
    if role in allowed:
        assert response.status_code == ok_status, response.text
    else:
        assert response.status_code == 403, response.text
        # Making an owner: a member is refused as for any member change, an admin for the owner role.
        expected = {"owners": OWNERS_MSG if role == "admin" else MEMBERS_MSG}.get(refusal, refusal)
        assert response.json()["message"] == expected
