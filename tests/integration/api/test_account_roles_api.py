"""The account's data-protection routes by role: who may delete the workspace, that everyone may
delete their own account (unless they alone own a workspace others use: 409 naming it), and what
each role's export holds (never another person's export)."""

from __future__ import annotations

import zipfile
from typing import NamedTuple

import pytest
from factories import bearer, emails_to, make_user, newest_email, sign_in_headers, text_part
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.jobs.account import build_export_job
from saas_app.models import DataExport, Membership, Tenant, User
from saas_app.services.account.exports import export_path
from saas_app.services.core.errors import NotFound

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("account_dirs")]

OLGA = "olga@example.com"  # owner of the shared workspace
PAT = "pat@example.com"  # the person under test, with the role of each case
ROLES = ["owner", "admin", "member"]


class Shared(NamedTuple):
    """Olga's workspace with Pat in it (Pat's session switched there)."""

    tenant_id: str
    olga: dict[str, str]
    pat: dict[str, str]


def _shared(api: TestClient, mailbox: MailCatcher, role: str) -> Shared:
    olga, olga_user = sign_in_headers(api, mailbox, OLGA)
    pat, pat_user = sign_in_headers(api, mailbox, PAT)
    with Session(get_engine()) as s:
        tenant = s.get(Tenant, olga_user["tenant_id"])
        assert tenant is not None
        tenant.name = "Olga Studio"
        s.add(tenant)
        s.add(Membership(tenant_id=tenant.id, user_id=pat_user["user_id"], role=role))
        s.commit()
    switched = api.post(f"/api/workspaces/{olga_user['tenant_id']}/switch", headers=pat)
    assert switched.status_code == 200, switched.text
    return Shared(olga_user["tenant_id"], olga, bearer(switched.json()["tokens"]["access_token"]))


def build_export_now(api: TestClient, headers: dict[str, str]) -> DataExport:
    """Request an export over HTTP and build it here (what the worker does)."""
    queued = api.post("/api/account/export", headers=headers)
    assert queued.status_code == 202, queued.text
    assert build_export_job(queued.json()["id"]) == "ready"
    with Session(get_engine(), expire_on_commit=False) as s:
        row = s.get(DataExport, queued.json()["id"])
    assert row is not None
    return row


@pytest.mark.parametrize("role", ROLES)
def test_only_an_owner_may_schedule_or_cancel_the_workspace_deletion(
    api: TestClient, mailbox: MailCatcher, role: str,
) -> None:
    shared = _shared(api, mailbox, role)
    scheduled = api.post("/api/account/delete", json={"confirm_email": PAT}, headers=shared.pat)
    if role != "owner":
        assert scheduled.status_code == 403, scheduled.text
        assert scheduled.json()["message"] == "Only an owner of this workspace can delete it."
        assert api.post("/api/account/delete", json={"confirm_email": OLGA}, headers=shared.olga).status_code == 202
    else:
        assert scheduled.status_code == 202, scheduled.text
    canceled = api.post("/api/account/delete/cancel", headers=shared.pat)
    assert canceled.status_code == (200 if role == "owner" else 403), canceled.text
    pending = api.get("/api/account/deletion", headers=shared.pat).json()["scheduled_for"]
    assert (pending is None) == (role == "owner")  # an owner canceled it; Olga's stays for the others


@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_schedule_and_cancel_their_own_account_deletion(
    api: TestClient, mailbox: MailCatcher, role: str,
) -> None:
    shared = _shared(api, mailbox, role)
    wrong = api.post("/api/account/user-deletion", json={"confirm_email": OLGA}, headers=shared.pat)
    assert wrong.status_code == 422 and wrong.json()["fields"][0]["field"] == "confirm_email"
    before = emails_to(mailbox, PAT)
    scheduled = api.post("/api/account/user-deletion", json={"confirm_email": PAT}, headers=shared.pat)
    assert scheduled.status_code == 202, scheduled.text
    assert newest_email(mailbox, PAT, before)["Subject"] == "Your account will be deleted"
    view = api.get("/api/account/user-deletion", headers=shared.pat).json()
    assert view == {"scheduled_for": scheduled.json()["scheduled_for"], "blocking_workspaces": []}
    assert api.get("/api/account/user-deletion", headers=shared.olga).json()["scheduled_for"] is None
    assert api.delete("/api/account/user-deletion", headers=shared.pat).json() == {"status": "canceled"}
    assert api.delete("/api/account/user-deletion", headers=shared.pat).status_code == 404


def test_the_only_owner_of_a_workspace_others_use_gets_409_naming_it(
    api: TestClient, mailbox: MailCatcher,
) -> None:
    shared = _shared(api, mailbox, "member")
    refused = api.post("/api/account/user-deletion", json={"confirm_email": OLGA}, headers=shared.olga)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"] == "sole_owner" and "\u201cOlga Studio\u201d" in body["message"]
    view = api.get("/api/account/user-deletion", headers=shared.olga).json()
    assert view == {"scheduled_for": None,
                    "blocking_workspaces": [{"tenant_id": shared.tenant_id, "name": "Olga Studio", "members": 2}]}


# What each role's export holds (besides renders/<id>/... files): the golden lists.
EXPORTS = {
    "member": {"profile.json", "tenant.json", "usage.jsonl", "renders.json", "assets.json", "README.txt"},
    "admin": {"profile.json", "tenant.json", "usage.jsonl", "renders.json", "assets.json", "audit.json",
              "members.json", "README.txt"},
    "owner": {"profile.json", "tenant.json", "usage.jsonl", "renders.json", "assets.json", "audit.json",
              "members.json", "billing.json", "README.txt"},
}


@pytest.mark.parametrize("role", ROLES)
def test_an_export_holds_what_the_role_may_see(api: TestClient, mailbox: MailCatcher, role: str) -> None:
    shared = _shared(api, mailbox, role)
    with Session(get_engine()) as s:
        make_user(s, s.get(Tenant, shared.tenant_id), role="member", email="third@example.com")
    before = emails_to(mailbox, PAT)
    row = build_export_now(api, shared.pat)
    assert "download" in text_part(newest_email(mailbox, PAT, before)).lower()
    with zipfile.ZipFile(export_path(row.filename)) as zf:
        names = {n for n in zf.namelist() if not n.startswith(("renders/", "assets/"))}
        texts = {n: zf.read(n).decode() for n in names}
    assert names == EXPORTS[role]
    everything = "\n".join(texts.values())
    if role == "member":  # no other person's address, no activity log, no billing
        assert OLGA not in everything and "third@example.com" not in everything
        assert "Not included for that role: the activity log, the members' addresses and billing." in texts[
            "README.txt"]
    else:
        assert "third@example.com" in texts["members.json"]
    assert '"Olga Studio"' in texts["profile.json"] and f'"{role}"' in texts["profile.json"]

    # Olga's own export is hers alone: not listed for Pat, and its link is 404 for Pat.
    theirs = build_export_now(api, shared.olga)
    assert api.get(f"/api/account/download-export/{theirs.filename}", headers=shared.pat).status_code == 404
    assert [i["id"] for i in api.get("/api/account/exports", headers=shared.pat).json()["items"]] == [row.id]



def test_an_export_asked_for_by_someone_who_has_left_is_not_built(api: TestClient, mailbox: MailCatcher) -> None:
    shared = _shared(api, mailbox, "member")
    queued = api.post("/api/account/export", headers=shared.pat)
    assert queued.status_code == 202, queued.text
    with Session(get_engine()) as s:  # Pat leaves before the worker gets to it
        pat = s.exec(select(User).where(User.email == PAT)).one()
        s.delete(s.exec(select(Membership).where(Membership.tenant_id == shared.tenant_id,
                                                 Membership.user_id == pat.id)).one())
        s.commit()
    with pytest.raises(NotFound):
        build_export_job(queued.json()["id"])
    with Session(get_engine()) as s:
        row = s.get(DataExport, queued.json()["id"])
        assert row is not None and row.status == "failed"
    assert not export_path(row.filename).exists()
