"""The teams UI states run in Reflex's own event processor (in process, in-memory state manager) against
real SQLite, Redis and SMTP: an open tab loses access at once when its user is removed, reloads when
their role changes, the team page's forms and the invitation page.

Each tab is a client token whose updates (state deltas and frontend events such as redirects) are
captured by a stand-in for the websocket namespace.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from factories import CTX, emails_to, make_principal, make_tenant, make_user, newest_email, set_plan
from reflex.istate.manager.token import BaseStateToken
from reflex.state import BaseState, State
from reflex.utils import prerequisites
from reflex_base.constants import CompileVars
from reflex_base.event import Event
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor
from reflex_base.utils.format import format_event_handler
from shared_helpers import SettingsOverride
from sqlmodel import Session, select
from team_flows import invite_token

from saas_app.db import get_engine, session_scope
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import AuthSession, Membership, Tenant, User, utcnow
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.tokens import sha256_hex
from saas_app.services.teams import invitations, members
from saas_app.services.teams.access_changes import get_access_changes
from saas_app.settings import get_settings
from saas_app.state.invite import InviteState
from saas_app.state.login import LoginState
from saas_app.state.team import TeamState
from saas_app.state.workspaces import WorkspacesState

pytestmark = pytest.mark.db
WAIT = 20.0
S = TypeVar("S", bound=BaseState)


class Updates:
    """What the app sent to its tabs: state deltas and frontend events (the websocket namespace's part)."""

    def __init__(self) -> None:
        self.deltas: list[dict[str, Any]] = []
        self.events: list[Event] = []

    async def emit_update(self, update: Any, token: str) -> None:
        self.deltas.append(dict(update.delta or {}))
        self.events.extend(update.events or [])

    def values(self, name: str) -> list[Any]:
        """Every value sent for a var called `name` (any state), oldest first."""
        return [value for delta in self.deltas for sub in delta.values() for key, value in sub.items()
                if key == name or key.startswith(f"{name}_rx_state")]

    def frontend(self, name: str) -> list[dict[str, Any]]:
        """The payloads of frontend events called `name` ("_redirect", "_call_script")."""
        return [dict(e.payload) for e in self.events if e.name == name]


def _cookie(session: Session, user: User, tenant_id: str) -> str:
    raw = secrets.token_urlsafe(32)
    session.add(AuthSession(user_id=user.id, tenant_id=tenant_id, kind="browser", token_hash=sha256_hex(raw),
                            expires_at=utcnow() + timedelta(days=1)))
    session.commit()
    return f"{get_settings().SESSION_COOKIE_NAME}={raw}"


class Tab:
    """One browser tab: a client token with the session cookie of one user, on one page."""

    def __init__(self, processor: BaseStateEventProcessor, cookie: str, path: str, route: str | None = None) -> None:
        self.processor, self.cookie, self.token = processor, cookie, secrets.token_hex(8)
        self.go(path, route)

    def go(self, path: str, route: str | None = None) -> None:
        """The tab is on another page now (the router data its next events carry)."""
        self.router_data = {"token": self.token, "sid": f"sid-{self.token}", "ip": "127.0.0.1",
                            "pathname": route or path.split("?")[0], "asPath": path, "query": {},
                            "headers": {"cookie": self.cookie, "user-agent": "pytest", "origin": "http://testserver"}}

    async def run(self, spec: Any) -> None:
        """Run one event of this tab to its end (events it chains run on by themselves)."""
        [event] = Event.from_event_type(spec, router_data=self.router_data)
        await asyncio.wait_for(await self.processor.enqueue(self.token, event), WAIT)

    async def open(self, *loaders: Any) -> None:
        """Connect (the app's token manager knows the tab from now), hydrate and run the page's on_load handlers."""
        await _tokens().link_token_to_sid(self.token, self.router_data["sid"])
        hydrate = Event(name=format_event_handler(State.event_handlers[CompileVars.HYDRATE]),
                        router_data=self.router_data)
        await asyncio.wait_for(await self.processor.enqueue(self.token, hydrate), WAIT)
        for loader in loaders:
            await self.run(loader)


    async def close(self) -> None:
        """The tab goes away (its websocket disconnects)."""
        await _tokens().disconnect_token(self.token, self.router_data["sid"])

    async def state(self, cls: type[S]) -> S:
        """The tab's instance of a state (the in-memory manager holds the live objects)."""
        manager = self.processor._root_context.state_manager
        root = await manager.get_state(BaseStateToken(ident=self.token, cls=State))
        return await root.get_state(cls)  # type: ignore[return-value]


def _tokens() -> Any:
    """The app's record of connected tabs (what the access watch asks)."""
    return prerequisites.get_app().app.event_namespace._token_manager


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"waited {WAIT} s for {what}"
        await asyncio.sleep(0.05)


def _run(scenario: Callable[[BaseStateEventProcessor, Updates], Awaitable[None]]) -> None:
    """Run a scenario in a loop of its own thread (the browser tests' Playwright may own this thread's loop),
    with this thread's context (Reflex keeps its registry of states in a context variable)."""
    async def main() -> None:
        updates = Updates()
        processor = BaseStateEventProcessor().configure(event_namespace=updates)  # type: ignore[arg-type]
        async with processor:
            await scenario(processor, updates)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as runner:
        runner.submit(contextvars.copy_context().run, asyncio.run, main()).result()


def _team(session: Session, plan: str = "pro") -> tuple[Tenant, User, User]:
    tenant = make_tenant(session, name="Acme Studio", plan=plan)
    return tenant, make_user(session, tenant, email="olivia@example.com"), make_user(
        session, tenant, role="member", email="mia@example.com")


def test_a_removed_members_open_tab_goes_to_sign_in_at_once(session: Session) -> None:
    tenant, owner, member = _team(session)
    cookie = _cookie(session, member, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/library")
        await tab.open(WorkspacesState.load)
        assert "Acme Studio" in updates.values("current_name")
        assert updates.frontend("_redirect") == []
        await asyncio.to_thread(_remove, member.id, make_principal(owner, tenant))
        await _until(lambda: bool(updates.frontend("_redirect")), "the tab to be sent to sign in")
        [redirect] = updates.frontend("_redirect")
        assert redirect["path"] == "/login?signed_out=access"
        assert updates.values("signed_in")[-1] is False  # every user-bound state was reset
        assert updates.values("current_name")[-1] == ""
        tab.go("/login?signed_out=access")
        await tab.run(LoginState.on_load)
        assert updates.values("notice")[-1] == "You no longer have access to Acme Studio. Sign in again to continue."

    _run(scenario)


def test_an_open_tab_whose_session_ends_goes_to_sign_in_signed_out(session: Session) -> None:
    tenant, _, member = _team(session)
    cookie = _cookie(session, member, tenant.id)
    [session_id] = session.exec(select(AuthSession.id).where(AuthSession.user_id == member.id)).all()

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/account")
        await tab.open(WorkspacesState.load)
        await asyncio.to_thread(_revoke, session_id)  # "sign out" of this device from another one
        await _until(lambda: bool(updates.frontend("_redirect")), "the tab to be sent to sign in")
        assert [r["path"] for r in updates.frontend("_redirect")] == ["/login?signed_out=1"]
        assert updates.values("signed_in")[-1] is False

    _run(scenario)


def _revoke(session_id: str) -> None:
    with session_scope() as session:
        auth_sessions.revoke_sessions(session=session, session_ids=[session_id])


def _remove(user_id: str, owner: Any) -> None:
    with session_scope() as session:
        members.remove_member(session=session, principal=owner, user_id=user_id, ctx=CTX)


def test_a_role_change_loads_the_open_page_again(session: Session) -> None:
    tenant, owner, member = _team(session)
    cookie = _cookie(session, member, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/team")
        await tab.open(WorkspacesState.load, TeamState.load)
        assert updates.values("can_manage_members")[-1] is False
        await asyncio.to_thread(_change, member.id, make_principal(owner, tenant), "admin")
        await _until(lambda: bool(updates.frontend("_call_script")), "the page to load again")
        assert "window.location.reload()" in json.dumps(updates.frontend("_call_script"))
        assert updates.frontend("_redirect") == []

    _run(scenario)


def _change(user_id: str, owner: Any, role: str) -> None:
    with session_scope() as session:
        members.change_role(session=session, principal=owner, user_id=user_id, role=role, ctx=CTX)


def test_the_access_watch_ends_when_the_tab_goes_away(session: Session) -> None:
    tenant, _, member = _team(session)
    cookie = _cookie(session, member, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/create")
        await tab.open(WorkspacesState.load)
        watch_id = (await tab.state(WorkspacesState))._access_watch
        assert watch_id
        seen = get_access_changes(member.id)
        [watch] = Event.from_event_type(WorkspacesState.watch_access(watch_id, seen), router_data=tab.router_data)
        running = await processor.enqueue(tab.token, watch)  # the same watch as the page load's
        await asyncio.sleep(1.0)  # two readings of the counter at least
        assert not running.done()  # it watches while the tab is open
        await tab.close()
        await asyncio.wait_for(running, WAIT)

    _run(scenario)


def test_a_page_load_replaces_the_tabs_watch(session: Session) -> None:
    tenant, _, member = _team(session)
    cookie = _cookie(session, member, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/create")
        await tab.open(WorkspacesState.load)
        first = (await tab.state(WorkspacesState))._access_watch
        [watch] = Event.from_event_type(WorkspacesState.watch_access(first, get_access_changes(member.id)),
                                        router_data=tab.router_data)
        running = await processor.enqueue(tab.token, watch)
        tab.go("/library")
        await tab.run(WorkspacesState.load)  # the next page: one watch per tab, not one per page seen
        assert (await tab.state(WorkspacesState))._access_watch != first
        await asyncio.wait_for(running, WAIT)
        await tab.close()

    _run(scenario)


def test_the_team_page_shows_managers_the_forms_and_seats_and_members_the_list(session: Session) -> None:
    tenant, owner, member = _team(session)
    owner_cookie, member_cookie = _cookie(session, owner, tenant.id), _cookie(session, member, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        await Tab(processor, owner_cookie, "/team").open(TeamState.load)
        rows = updates.values("members")[-1]
        assert [(r["email"], r["role"], r["you"], r["editable"]) for r in rows] == [
            ("olivia@example.com", "owner", "yes", ""), ("mia@example.com", "member", "", "yes")]
        assert updates.values("seats_line")[-1] == "2 of 5 seats used on Pro"
        assert [g["value"] for g in updates.values("giveable")[-1]] == ["owner", "admin", "member"]
        updates.deltas.clear()
        await Tab(processor, member_cookie, "/team").open(TeamState.load)
        assert [r["editable"] for r in updates.values("members")[-1]] == ["", ""]
        assert updates.values("giveable")[-1] == []
        assert updates.values("can_manage_members")[-1] is False

    _run(scenario)


def test_the_invite_form_explains_refusals_and_sends_the_email(session: Session, smtp: MailCatcher) -> None:
    tenant = make_tenant(session, name="Solo", plan="free")
    owner = make_user(session, tenant, email="sole@example.com")
    cookie = _cookie(session, owner, tenant.id)

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

    _run(scenario)


def test_too_many_invitations_say_how_long_to_wait(session: Session, smtp: MailCatcher,
                                                  app_settings: SettingsOverride) -> None:
    app_settings.set(INVITES_PER_INVITER_PER_HOUR=1)
    tenant, owner, _ = _team(session)
    cookie = _cookie(session, owner, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/team")
        await tab.open(TeamState.load)
        await tab.run(TeamState.invite({"email": "one@example.com", "role": "member"}))
        assert updates.values("message")[-1] == "Invitation sent to one@example.com."
        await tab.run(TeamState.invite({"email": "two@example.com", "role": "member"}))
        refused = updates.values("invite_error")[-1]
        assert "Try again in" in refused and updates.values("invite_upgrade")[-1] is False
        assert updates.values("invite_email")[-1] == "two@example.com"  # kept, to send once the wait is over

    _run(scenario)


def test_the_invitation_page_accepts_only_as_the_invited_address(session: Session, smtp: MailCatcher) -> None:
    tenant, owner, _ = _team(session)
    before = emails_to(smtp, "newbie@example.com")
    with Session(get_engine()) as other:
        invitations.create_invitation(session=other, principal=make_principal(owner, tenant),
                                      email="newbie@example.com", role="member", ctx=CTX)
        other.commit()
    token = invite_token(newest_email(smtp, "newbie@example.com", before))
    stranger = make_user(session, email="stranger@example.com")
    newbie = make_user(session, email="newbie@example.com")
    stranger_cookie = _cookie(session, stranger, _tenant_of(session, stranger))
    newbie_cookie = _cookie(session, newbie, _tenant_of(session, newbie))
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

    _run(scenario)
    session.expire_all()
    assert session.exec(select(Membership).where(Membership.tenant_id == tenant.id,
                                                 Membership.user_id == newbie.id)).one().role == "member"


def _tenant_of(session: Session, user: User) -> str:
    return session.exec(select(Membership.tenant_id).where(Membership.user_id == user.id)).first() or ""


def test_the_team_page_changes_roles_removes_after_confirming_and_leaves(session: Session) -> None:
    tenant, owner, member = _team(session)
    admin = make_user(session, tenant, role="admin", email="adam@example.com")
    owner_cookie, admin_cookie = _cookie(session, owner, tenant.id), _cookie(session, admin, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, owner_cookie, "/team")
        await tab.open(TeamState.load)
        await tab.run(TeamState.change_role(member.id, "admin"))
        assert updates.values("message")[-1] == "mia@example.com is now Admin."
        assert [r["role"] for r in updates.values("members")[-1] if r["email"] == "mia@example.com"] == ["admin"]
        await tab.run(TeamState.change_role(owner.id, "member"))  # your own row has no select; the service says no
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

    _run(scenario)
    session.expire_all()
    left = session.exec(select(Membership).where(Membership.tenant_id == tenant.id)).all()
    assert sorted(m.user_id for m in left) == [owner.id]


def test_more_than_50_members_are_shown_a_page_at_a_time(session: Session) -> None:
    tenant = make_tenant(session, name="Big", plan="enterprise")
    owner = make_user(session, tenant, email="boss@example.com")
    for number in range(54):
        make_user(session, tenant, role="member", email=f"m{number:02d}@example.com")
    cookie = _cookie(session, owner, tenant.id)

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

    _run(scenario)
