"""The switcher's "Create workspace": a new workspace owned by the caller, opened in their session."""

from __future__ import annotations

import dataclasses

import pytest
from factories import CTX
from sqlmodel import Session, select
from team_flows import signed_in

from saas_app.models import AuditLog, AuthSession, Membership
from saas_app.services.core.errors import Forbidden, InvalidInput
from saas_app.services.teams.memberships import list_workspaces
from saas_app.services.teams.switching import create_and_switch

pytestmark = pytest.mark.db


def test_creating_a_workspace_makes_the_caller_its_owner_and_opens_it(session: Session) -> None:
    person = signed_in(session, "ada@example.com")
    moved = create_and_switch(session=session, principal=person, name="  Beta   Studio ", ctx=CTX)
    session.commit()
    assert moved.tenant_id != person.tenant_id and moved.role == "owner" and moved.plan == "free"
    assert session.get(AuthSession, person.session_id).tenant_id == moved.tenant_id  # type: ignore[union-attr]
    listed = list_workspaces(session=session, user_id=person.user_id, current_tenant_id=moved.tenant_id)
    assert sorted((w.name, w.role, w.current) for w in listed) == [("Beta Studio", "owner", True),
                                                                   ("ada's workspace", "owner", False)]
    actions = set(session.exec(select(AuditLog.action).where(AuditLog.tenant_id == moved.tenant_id)).all())
    assert {"tenant.created", "workspace.switched"} <= actions


@pytest.mark.parametrize("name", ["", "   ", "x" * 81])
def test_a_workspace_needs_a_name_of_1_to_80_characters(session: Session, name: str) -> None:
    person = signed_in(session, "ada@example.com")
    with pytest.raises(InvalidInput, match="1 to 80 characters"):
        create_and_switch(session=session, principal=person, name=name, ctx=CTX)


def test_an_api_key_cannot_create_and_open_a_workspace(session: Session) -> None:
    person = signed_in(session, "ada@example.com")
    key = dataclasses.replace(person, via="api_key", actor="sk_live_abc")
    with pytest.raises(Forbidden):
        create_and_switch(session=session, principal=key, name="Beta", ctx=CTX)
    session.rollback()
    assert len(session.exec(select(Membership).where(Membership.user_id == person.user_id)).all()) == 1
