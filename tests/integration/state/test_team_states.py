"""The team page and the invitation page states (state/team.py, state/invite.py) per role and visitor,
run in Reflex's event processor against real SQLite, Redis and SMTP (tests/state_tabs.py)."""

from __future__ import annotations

import json

import pytest
from factories import CTX, emails_to, make_principal, make_tenant, make_user, newest_email, set_plan
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor
from shared_helpers import SettingsOverride
from sqlmodel import Session, select
from state_tabs import Tab, Updates, cookie_for, make_team, run_tabs
from team_flows import invite_token

from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import AuthSession, Invitation, Membership, User
from saas_app.services.auth.tokens import sha256_hex
from saas_app.services.teams import invitations
from saas_app.state.invite import InviteState
from saas_app.state.team import TeamState
from saas_app.state.workspaces import WorkspacesState

pytestmark = pytest.mark.db


def test_the_team_page_shows_managers_the_forms_and_seats_and_members_the_list(session: Session) -> None:
    tenant, owner, member = make_team(session)
    owner_cookie, member_cookie = cookie_for(session, owner, tenant.id), cookie_for(session, member, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        await Tab(processor, owner_cookie, "/team").open(TeamState.load)
        rows = updates.values("members")[-1]
        assert [(r["email"], r["role"], r["you"], r["editable"], r["removable"]) for r in rows] == [
            ("olivia@example.com", "owner", "yes", "", ""), ("mia@example.com", "member", "", "yes", "yes")]
        assert updates.values("leave_blocked")[-1] == (  # the last owner: the button says why it is off
            "A workspace needs at least one owner. Make someone else an owner first.")
        assert updates.values("seats_line")[-1] == "2 of 5 seats used on Pro"
        assert [g["value"] for g in updates.values("giveable")[-1]] == ["owner", "admin", "member"]
        updates.deltas.clear()
        await Tab(processor, member_cookie, "/team").open(TeamState.load)
        assert [r["editable"] for r in updates.values("members")[-1]] == ["", ""]
        assert updates.values("giveable")[-1] == []
        assert updates.values("can_manage_members")[-1] is False

    run_tabs(scenario)


def test_the_invite_form_explains_refusals_and_sends_the_email(session: Session, smtp: MailCatcher) -> None:
    tenant = make_tenant(session, name="Solo", plan="free")
    owner = make_user(session, tenant, email="sole@example.com")
    cookie = cookie_for(session, owner, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/team")
        await tab.open(TeamState.load)
        await tab.run(TeamState.invite({"email": "not an address", "role": "member"}))
        assert "email" in updates.values("invite_error")[-1].lower()
        await tab.run(TeamState.invite({"email": "friend@example.com", "role": "member"}))
        assert "Free plan has 1 seat" in updates.values("invite_error")[-1]
        assert updates.values("invite_upgrade")[-1] is True  # the page links owners to /billing
        with Session(get_engine()) as other:
            set_plan(other, tenant.id, "pro")
        before = emails_to(smtp, "friend@example.com")
        await tab.run(TeamState.invite({"email": "friend@example.com", "role": "admin"}))
        assert updates.values("message")[-1] == "Invitation sent to friend@example.com."
        assert [(r["email"], r["role_label"], r["status"]) for r in updates.values("invites")[-1]] == [
            ("friend@example.com", "Admin", "pending")]
        assert invite_token(newest_email(smtp, "friend@example.com", before))

    run_tabs(scenario)


def test_too_many_invitations_say_how_long_to_wait(session: Session, smtp: MailCatcher,
                                                  app_settings: SettingsOverride) -> None:
    app_settings.set(INVITES_PER_INVITER_PER_HOUR=1)
    tenant, owner, _ = make_team(session)
    cookie = cookie_for(session, owner, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/team")
        await tab.open(TeamState.load)
        await tab.run(TeamState.invite({"email": "one@example.com", "role": "member"}))
        assert updates.values("message")[-1] == "Invitation sent to one@example.com."
        await tab.run(TeamState.invite({"email": "two@example.com", "role": "member"}))
        refused = updates.values("invite_error")[-1]
        assert "Try again in" in refused and updates.values("invite_upgrade")[-1] is False
        assert updates.values("invite_email")[-1] == "two@example.com"  # kept, to send once the wait is over

    run_tabs(scenario)


def test_the_invitation_page_accepts_only_as_the_invited_address(session: Session, smtp: MailCatcher) -> None:
    tenant, owner, _ = make_team(session)
    before = emails_to(smtp, "newbie@example.com")
    with Session(get_engine()) as other:
        invitations.create_invitation(session=other, principal=make_principal(owner, tenant),
                                      email="newbie@example.com", role="member", ctx=CTX)
        other.commit()
    token = invite_token(newest_email(smtp, "newbie@example.com", before))
    stranger = make_user(session, email="stranger@example.com")
    newbie = make_user(session, email="newbie@example.com")
    stranger_cookie = cookie_for(session, stranger, _tenant_of(session, stranger))
    newbie_cookie = cookie_for(session, newbie, _tenant_of(session, newbie))
    path = f"/invite?token={token}"

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        visitor = Tab(processor, "", path, "/invite")
        await visitor.open(InviteState.on_load)
        assert updates.values("workspace_name")[-1] == "Acme Studio"
        assert updates.values("invited_email")[-1] == "newbie@example.com"
        assert updates.values("visitor_email")[-1] == ""
        await visitor.run(InviteState.sign_in)
        [redirect] = updates.frontend("_redirect")
        assert redirect["path"].startswith("/login?next=%2Finvite%3Ftoken%3D")
        assert redirect["path"].endswith("&address=newbie%40example.com")

        other = Tab(processor, stranger_cookie, path, "/invite")
        await other.open(InviteState.on_load)
        assert updates.values("is_invitee")[-1] is False
        await other.run(InviteState.accept)
        assert "This invitation was sent to" in updates.values("error")[-1]

        invitee = Tab(processor, newbie_cookie, path, "/invite")
        await invitee.open(InviteState.on_load)
        assert updates.values("is_invitee")[-1] is True
        await invitee.run(InviteState.accept)
        assert "/library" in json.dumps(updates.frontend("_call_script"))

    run_tabs(scenario)
    session.expire_all()
    assert session.exec(select(Membership).where(Membership.tenant_id == tenant.id,
                                                 Membership.user_id == newbie.id)).one().role == "member"


def _tenant_of(session: Session, user: User) -> str:
    return session.exec(select(Membership.tenant_id).where(Membership.user_id == user.id)).first() or ""


def test_the_team_page_changes_roles_removes_after_confirming_and_leaves(session: Session) -> None:
    tenant, owner, member = make_team(session)
    admin = make_user(session, tenant, role="admin", email="adam@example.com")
    owner_cookie, admin_cookie = cookie_for(session, owner, tenant.id), cookie_for(session, admin, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, owner_cookie, "/team")
        await tab.open(TeamState.load)
        await tab.run(TeamState.ask_role(member.id, "admin"))
        assert updates.values("confirm_kind")[-1] == "role"
        await tab.run(TeamState.confirm)
        assert updates.values("message")[-1] == "mia@example.com is now Admin."
        assert [r["role"] for r in updates.values("members")[-1] if r["email"] == "mia@example.com"] == ["admin"]
        await tab.run(TeamState.ask_role(owner.id, "member"))  # the last owner's own row has no select
        await tab.run(TeamState.confirm)
        assert updates.values("message_ok")[-1] is False

        await tab.run(TeamState.ask("remove", member.id, "mia@example.com"))
        assert updates.values("confirm_kind")[-1] == "remove"
        await tab.run(TeamState.set_confirm_open(False))  # Cancel: nothing happens
        assert updates.values("confirm_kind")[-1] == ""
        assert len(updates.values("members")[-1]) == 3
        await tab.run(TeamState.ask("remove", member.id, "mia@example.com"))
        await tab.run(TeamState.confirm)
        assert updates.values("message")[-1] == "mia@example.com was removed from the workspace."
        assert [r["email"] for r in updates.values("members")[-1]] == ["olivia@example.com", "adam@example.com"]

        leaver = Tab(processor, admin_cookie, "/team")
        await leaver.open(WorkspacesState.load, TeamState.load)
        await leaver.run(TeamState.ask("leave", "", ""))
        await leaver.run(TeamState.confirm)
        assert "window.location.assign('/create')" in json.dumps(updates.frontend("_call_script"))
        assert (await leaver.state(WorkspacesState))._access_watch == ""  # the tab moves on by itself

    run_tabs(scenario)
    session.expire_all()
    left = session.exec(select(Membership).where(Membership.tenant_id == tenant.id)).all()
    assert sorted(m.user_id for m in left) == [owner.id]


def test_more_than_50_members_are_shown_a_page_at_a_time(session: Session) -> None:
    tenant = make_tenant(session, name="Big", plan="enterprise")
    owner = make_user(session, tenant, email="boss@example.com")
    for number in range(54):
        make_user(session, tenant, role="member", email=f"m{number:02d}@example.com")
    cookie = cookie_for(session, owner, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/team")
        await tab.open(TeamState.load)
        assert len(updates.values("members")[-1]) == 50
        assert updates.values("member_total")[-1] == 55
        await tab.run(TeamState.go_to("members", 1))
        assert len(updates.values("members")[-1]) == 5
        assert updates.values("member_page")[-1] == 1
        await tab.run(TeamState.go_to("members", 9))  # past the end: the last page
        team = await tab.state(TeamState)
        assert (team.member_page, len(team.members)) == (1, 5)
        assert updates.values("seats_line")[-1] == "55 seats used on Enterprise (unlimited)"

    run_tabs(scenario)



def test_a_tab_left_on_another_workspace_does_not_act_and_loads_again(session: Session, smtp: MailCatcher) -> None:
    """Two tabs of one browser: tab B switches workspace; tab A, still showing the first one, sends an
    invitation. Nothing is sent in either workspace, and tab A loads its page again (QA finding F7: it
    used to reset into an endless spinner)."""
    first, owner, _member = make_team(session)
    second = make_tenant(session, name="Side Project", plan="pro")
    session.add(Membership(tenant_id=second.id, user_id=owner.id, role="owner"))
    session.commit()
    cookie = cookie_for(session, owner, first.id)
    raw = cookie.split("=", 1)[1]

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab_a = Tab(processor, cookie, "/team")
        await tab_a.open(TeamState.load)
        assert updates.values("members")[-1]  # tab A shows the first workspace's team
        with Session(get_engine()) as other:  # tab B switches this browser's session to the second workspace
            row = other.exec(select(AuthSession).where(AuthSession.token_hash == sha256_hex(raw))).one()
            row.tenant_id = second.id
            other.add(row)
            other.commit()
        updates.events.clear()
        await tab_a.run(TeamState.invite({"email": "newcomer@example.com", "role": "member"}))
        assert len(updates.frontend("_call_script")) == 1
        assert "window.location.reload()" in json.dumps(updates.frontend("_call_script"))
        assert updates.frontend("_redirect") == []
        with Session(get_engine()) as other:
            assert other.exec(select(Invitation)).all() == []
        assert emails_to(smtp, "newcomer@example.com") == 0

    run_tabs(scenario)


def test_a_withdrawn_invitation_page_shows_no_validity_date(session: Session, smtp: MailCatcher) -> None:
    tenant, owner, _ = make_team(session)
    before = emails_to(smtp, "ghost@example.com")
    with Session(get_engine()) as other:
        view = invitations.create_invitation(session=other, principal=make_principal(owner, tenant),
                                             email="ghost@example.com", role="member", ctx=CTX)
        other.commit()
    token = invite_token(newest_email(smtp, "ghost@example.com", before))
    path = f"/invite?token={token}"

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        await Tab(processor, "", path, "/invite").open(InviteState.on_load)
        assert updates.values("expires")[-1] != ""  # a live link says until when
        with Session(get_engine()) as other:
            invitations.revoke_invitation(session=other, principal=make_principal(owner, tenant),
                                          invitation_id=view.id, ctx=CTX)
            other.commit()
        again = Tab(processor, "", path, "/invite")
        await again.open(InviteState.on_load)
        invite = await again.state(InviteState)
        assert "withdrawn" in invite.problem
        assert invite.expires == ""  # the page shows no "Valid until" then

    run_tabs(scenario)


def test_a_role_change_waits_for_the_confirmation(session: Session) -> None:
    tenant, owner, member = make_team(session)
    cookie = cookie_for(session, owner, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/team")
        await tab.open(TeamState.load)
        await tab.run(TeamState.ask_role(member.id, "owner"))  # chosen in the select (or one arrow key)
        team = await tab.state(TeamState)
        assert (team.confirm_kind, team.confirm_title, team.confirm_button) == (
            "role", "Make mia@example.com an owner?", "Make owner")
        assert team.confirm_body.startswith("Owners can manage billing and delete the workspace")
        assert _role(member.id) == "member"  # nothing saved yet
        await tab.run(TeamState.set_confirm_open(False))  # Cancel
        assert updates.values("confirm_kind")[-1] == ""
        assert [r["role"] for r in updates.values("members")[-1] if r["id"] == member.id] == ["member"]
        assert _role(member.id) == "member"
        await tab.run(TeamState.ask_role(member.id, "admin"))
        assert (await tab.state(TeamState)).confirm_title == "Make mia@example.com an admin?"
        await tab.run(TeamState.confirm)
        assert _role(member.id) == "admin"
        assert updates.values("message")[-1] == "mia@example.com is now Admin."

    run_tabs(scenario)


def _role(user_id: str) -> str:
    with Session(get_engine()) as fresh:
        return fresh.exec(select(Membership.role).where(Membership.user_id == user_id)).one()


def test_an_owner_may_step_down_and_leave_once_another_owner_exists(session: Session) -> None:
    tenant, owner, member = make_team(session)
    cookie = cookie_for(session, owner, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/team")
        await tab.open(TeamState.load)
        assert [r["editable"] for r in updates.values("members")[-1] if r["you"]] == [""]
        await tab.run(TeamState.ask_role(member.id, "owner"))
        await tab.run(TeamState.confirm)
        mine = [r for r in updates.values("members")[-1] if r["you"]]
        assert [(r["editable"], r["removable"]) for r in mine] == [("yes", "")]  # a select, still no Remove
        assert updates.values("leave_blocked")[-1] == ""
        await tab.run(TeamState.ask_role(owner.id, "admin"))
        assert (await tab.state(TeamState)).confirm_title == "Make olivia@example.com an admin?"
        await tab.run(TeamState.confirm)
        assert updates.values("message")[-1] == "olivia@example.com is now Admin."
        assert _role(owner.id) == "admin"

    run_tabs(scenario)


def test_the_only_member_is_told_why_they_cannot_leave(session: Session) -> None:
    tenant = make_tenant(session, name="Solo", plan="free")
    owner = make_user(session, tenant, email="sole@example.com")
    cookie = cookie_for(session, owner, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        await Tab(processor, cookie, "/team").open(TeamState.load)
        assert updates.values("leave_blocked")[-1] == (
            "You are the only member of this workspace, so you cannot leave it. Delete the workspace instead.")

    run_tabs(scenario)
