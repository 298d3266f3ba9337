"""An open tab's watch on its user's access (state/workspaces.py): removed, signed out, another role;
one watch per tab, ending with the tab. The real states run in Reflex's event processor (tests/state_tabs.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from factories import CTX, make_principal, make_tenant, make_user
from reflex_base.event import Event
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor
from sqlmodel import Session, select
from state_tabs import WAIT, Tab, Updates, cookie_for, make_team, run_tabs, until

from saas_app.db import session_scope
from saas_app.models import AuthSession, Membership
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.teams import members
from saas_app.services.teams.access_changes import get_access_changes
from saas_app.state.login import LoginState
from saas_app.state.team import TeamState
from saas_app.state.workspaces import WorkspacesState

pytestmark = pytest.mark.db


def test_a_removed_members_open_tab_goes_to_sign_in_at_once(session: Session) -> None:
    tenant, owner, member = make_team(session)
    cookie = cookie_for(session, member, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/library")
        await tab.open(WorkspacesState.load)
        assert "Acme Studio" in updates.values("current_name")
        assert updates.frontend("_redirect") == []
        await asyncio.to_thread(_remove, member.id, make_principal(owner, tenant))
        await until(lambda: bool(updates.frontend("_redirect")), "the tab to be sent to sign in")
        [redirect] = updates.frontend("_redirect")
        assert redirect["path"] == "/login?signed_out=access"
        assert updates.values("signed_in")[-1] is False  # every user-bound state was reset
        assert updates.values("current_name")[-1] == ""
        tab.go("/login?signed_out=access")
        await tab.run(LoginState.on_load)
        assert updates.values("notice")[-1] == "You no longer have access to Acme Studio. Sign in again to continue."

    run_tabs(scenario)


def test_an_open_tab_whose_session_ends_goes_to_sign_in_signed_out(session: Session) -> None:
    tenant, _, member = make_team(session)
    cookie = cookie_for(session, member, tenant.id)
    [session_id] = session.exec(select(AuthSession.id).where(AuthSession.user_id == member.id)).all()

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/account")
        await tab.open(WorkspacesState.load)
        await asyncio.to_thread(_revoke, session_id)  # "sign out" of this device from another one
        await until(lambda: bool(updates.frontend("_redirect")), "the tab to be sent to sign in")
        assert [r["path"] for r in updates.frontend("_redirect")] == ["/login?signed_out=1"]
        assert updates.values("signed_in")[-1] is False

    run_tabs(scenario)


def _revoke(session_id: str) -> None:
    with session_scope() as session:
        auth_sessions.revoke_sessions(session=session, session_ids=[session_id])


def _remove(user_id: str, owner: Any) -> None:
    with session_scope() as session:
        members.remove_member(session=session, principal=owner, user_id=user_id, ctx=CTX)


def test_a_role_change_loads_the_open_page_again(session: Session) -> None:
    tenant, owner, member = make_team(session)
    cookie = cookie_for(session, member, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/team")
        await tab.open(WorkspacesState.load, TeamState.load)
        assert updates.values("can_manage_members")[-1] is False
        await asyncio.to_thread(_change, member.id, make_principal(owner, tenant), "admin")
        await until(lambda: bool(updates.frontend("_call_script")), "the page to load again")
        assert "window.location.reload()" in json.dumps(updates.frontend("_call_script"))
        assert updates.frontend("_redirect") == []

    run_tabs(scenario)


def _change(user_id: str, owner: Any, role: str) -> None:
    with session_scope() as session:
        members.change_role(session=session, principal=owner, user_id=user_id, role=role, ctx=CTX)


def test_the_access_watch_ends_when_the_tab_goes_away(session: Session) -> None:
    tenant, _, member = make_team(session)
    cookie = cookie_for(session, member, tenant.id)

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

    run_tabs(scenario)


def test_a_page_load_replaces_the_tabs_watch(session: Session) -> None:
    tenant, _, member = make_team(session)
    cookie = cookie_for(session, member, tenant.id)

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

    run_tabs(scenario)




def test_the_switcher_drops_a_workspace_the_user_was_removed_from_elsewhere(session: Session) -> None:
    tenant, _, member = make_team(session)  # mia's tab acts in Acme Studio
    other = make_tenant(session, name="Side Project", plan="pro")
    other_owner = make_user(session, other, email="sam@example.com")
    session.add(Membership(tenant_id=other.id, user_id=member.id, role="member"))
    session.commit()
    cookie = cookie_for(session, member, tenant.id)

    async def scenario(processor: BaseStateEventProcessor, updates: Updates) -> None:
        tab = Tab(processor, cookie, "/library")
        await tab.open(WorkspacesState.load)
        assert sorted(w["name"] for w in updates.values("workspaces")[-1]) == ["Acme Studio", "Side Project"]
        await asyncio.to_thread(_remove, member.id, make_principal(other_owner, other))
        await until(lambda: [w["name"] for w in updates.values("workspaces")[-1]] == ["Acme Studio"],
                    "the switcher to drop Side Project")
        assert updates.frontend("_redirect") == [] and updates.frontend("_call_script") == []  # the page stays
        await tab.close()

    run_tabs(scenario)
