"""Members through the services: the list, role changes and the last-owner rule, removing someone
(their sessions and keys there end, their renders stay), and leaving."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading

import pytest
from factories import CTX, make_render, set_plan
from sqlmodel import Session, col, select
from team_flows import signed_in

from saas_app.db import get_engine
from saas_app.models import ApiKey, AuditLog, AuthSession, Membership, Render, User
from saas_app.services.account import api_keys
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.principal import Principal
from saas_app.services.core.errors import AppError, AuthError, Conflict, Forbidden, InvalidInput, NotFound
from saas_app.services.teams import members
from saas_app.services.teams.access_changes import get_access_changes
from saas_app.services.teams.switching import switch_workspace

pytestmark = pytest.mark.db

OWNER = "olivia@example.com"


def _join(session: Session, owner: Principal, email: str, role: str) -> Principal:
    """`email` signed in, made a member of the owner's workspace with `role`, acting there."""
    person = signed_in(session, email)
    session.add(Membership(tenant_id=owner.tenant_id, user_id=person.user_id, role=role))
    session.flush()
    moved = switch_workspace(session=session, principal=person, tenant_id=owner.tenant_id, ctx=CTX)
    session.commit()
    return moved


def _team(session: Session) -> tuple[Principal, Principal, Principal]:
    owner = signed_in(session, OWNER)
    set_plan(session, owner.tenant_id, "pro")
    admin = _join(session, owner, "adam@example.com", "admin")
    return owner, admin, _join(session, owner, "mia@example.com", "member")


def _role(session: Session, tenant_id: str, user_id: str) -> str | None:
    session.expire_all()
    row = session.exec(select(Membership).where(Membership.tenant_id == tenant_id,
                                                Membership.user_id == user_id)).first()
    return row.role if row else None


def test_members_are_listed_owners_first_with_you_marked(session: Session) -> None:
    owner, admin, member = _team(session)
    listed = members.list_members(session=session, principal=member)
    assert [(m.email, m.role, m.is_you) for m in listed] == [
        (OWNER, "owner", False), ("adam@example.com", "admin", False), ("mia@example.com", "member", True)]
    assert all(m.joined_at and m.last_active_at for m in listed)


def test_roles_change_and_the_audit_says_so(session: Session) -> None:
    owner, admin, member = _team(session)
    before = get_access_changes(member.user_id)
    view = members.change_role(session=session, principal=admin, user_id=member.user_id, role="admin", ctx=CTX)
    session.commit()
    assert view.role == "admin" and _role(session, owner.tenant_id, member.user_id) == "admin"
    assert get_access_changes(member.user_id) == (before or 0) + 1  # told after the commit
    members.change_role(session=session, principal=owner, user_id=admin.user_id, role="owner", ctx=CTX)
    session.commit()
    assert _role(session, owner.tenant_id, admin.user_id) == "owner"
    rows = session.exec(select(AuditLog).where(AuditLog.action == "team.role_changed").order_by(col(AuditLog.id))).all()
    assert len(rows) == 2 and '"to": "owner"' in rows[1].details


@pytest.mark.parametrize(("who", "target", "role", "error"), [
    ("member", "admin", "member", Forbidden),  # members cannot manage members
    ("admin", "owner", "member", Forbidden),  # only owners change an owner
    ("admin", "member", "owner", Forbidden),  # only owners make owners
    ("owner", "member", "boss", InvalidInput),
    ("owner", "stranger", "admin", NotFound),
    ("owner", "owner", "admin", Conflict),  # the last owner
])
def test_role_changes_are_refused_with_a_reason(session: Session, who: str, target: str, role: str,
                                                error: type[AppError]) -> None:
    owner, admin, member = _team(session)
    people = {"owner": owner, "admin": admin, "member": member, "stranger": signed_in(session, "sam@example.com")}
    with pytest.raises(error) as refused:
        members.change_role(session=session, principal=people[who], user_id=people[target].user_id, role=role, ctx=CTX)
    if error is Conflict:
        assert refused.value.message == "A workspace needs at least one owner. Make someone else an owner first."
    session.rollback()
    expected = None if target == "stranger" else people[target].role
    assert _role(session, owner.tenant_id, people[target].user_id) == expected


def test_an_owner_can_step_down_once_there_is_another_owner(session: Session) -> None:
    owner, admin, _ = _team(session)
    members.change_role(session=session, principal=owner, user_id=admin.user_id, role="owner", ctx=CTX)
    members.change_role(session=session, principal=owner, user_id=owner.user_id, role="member", ctx=CTX)
    session.commit()
    assert _role(session, owner.tenant_id, owner.user_id) == "member"


def test_removing_a_member_ends_their_access_here_at_once_and_keeps_their_renders(session: Session) -> None:
    owner, admin, _ = _team(session)  # the admin is removed: an admin can hold API keys here
    home_id = session.exec(select(Membership.tenant_id).where(Membership.user_id == admin.user_id,
                                                              Membership.tenant_id != owner.tenant_id)).one()
    elsewhere = switch_workspace(session=session, principal=signed_in(session, "adam@example.com"),
                                 tenant_id=home_id, ctx=CTX)  # a session in his own workspace
    second = auth_sessions.open_api_session(session=session, email="adam@example.com", ctx=CTX)
    switch_workspace(session=session, principal=second.principal, tenant_id=owner.tenant_id, ctx=CTX)
    here_key = api_keys.create_api_key(session=session, principal=admin, name="mine", ctx=CTX)
    other_key = api_keys.create_api_key(session=session, principal=elsewhere, name="home", ctx=CTX)
    session.commit()
    user = session.get(User, admin.user_id)
    assert user is not None
    render = make_render(session, user, tenant_id=owner.tenant_id)
    before = get_access_changes(admin.user_id) or 0

    members.remove_member(session=session, principal=owner, user_id=admin.user_id, ctx=CTX)
    session.commit()
    session.expire_all()
    assert _role(session, owner.tenant_id, admin.user_id) is None
    for session_id in (admin.session_id, second.principal.session_id):
        row = session.get(AuthSession, session_id)
        assert row is not None and row.revoked_at is not None
    home = session.get(AuthSession, elsewhere.session_id)
    assert home is not None and home.revoked_at is None
    assert session.get(ApiKey, here_key.id).revoked_at is not None  # type: ignore[union-attr]
    assert session.get(ApiKey, other_key.id).revoked_at is None  # type: ignore[union-attr]
    with pytest.raises(AuthError):
        api_keys.authenticate_api_key(session=session, secret=here_key.key)
    assert api_keys.authenticate_api_key(session=session, secret=other_key.key).tenant_id == elsewhere.tenant_id
    kept = session.get(Render, render.id)
    assert kept is not None and kept.tenant_id == owner.tenant_id and kept.user_id == admin.user_id
    assert get_access_changes(admin.user_id) == before + 1
    assert session.exec(select(AuditLog).where(AuditLog.action == "team.member_removed")).one().target == \
        "adam@example.com"


@pytest.mark.parametrize(("who", "target", "error"), [
    ("member", "admin", Forbidden),
    ("admin", "owner", Forbidden),
    ("admin", "admin", Conflict),  # yourself: leave instead
    ("owner", "stranger", NotFound),
])
def test_removals_are_refused_with_a_reason(session: Session, who: str, target: str, error: type[AppError]) -> None:
    owner, admin, member = _team(session)
    people = {"owner": owner, "admin": admin, "member": member, "stranger": signed_in(session, "sam@example.com")}
    with pytest.raises(error):
        members.remove_member(session=session, principal=people[who], user_id=people[target].user_id, ctx=CTX)
    session.rollback()
    assert len(members.list_members(session=session, principal=owner)) == 3


def test_leaving_moves_the_session_and_ends_the_rest_here(session: Session) -> None:
    owner, _, member = _team(session)
    home = session.exec(select(Membership.tenant_id).where(Membership.user_id == member.user_id,
                                                           Membership.tenant_id != owner.tenant_id)).one()
    other = auth_sessions.open_api_session(session=session, email="mia@example.com", ctx=CTX)
    switch_workspace(session=session, principal=other.principal, tenant_id=owner.tenant_id, ctx=CTX)
    session.commit()
    moved_to = members.leave_workspace(session=session, principal=member, ctx=CTX)
    session.commit()
    session.expire_all()
    assert moved_to == home and _role(session, owner.tenant_id, member.user_id) is None
    current = session.get(AuthSession, member.session_id)
    assert current is not None and current.revoked_at is None and current.tenant_id == home
    ended = session.get(AuthSession, other.principal.session_id)
    assert ended is not None and ended.revoked_at is not None
    assert "team.member_left" in [r.action for r in session.exec(select(AuditLog)).all()]


def test_leaving_your_only_workspace_gives_you_a_new_personal_one(session: Session) -> None:
    owner = signed_in(session, OWNER)
    set_plan(session, owner.tenant_id, "pro")
    guest = signed_in(session, "gus@example.com")
    gus_home = guest.tenant_id
    session.delete(session.exec(select(Membership).where(Membership.tenant_id == gus_home)).one())
    session.add(Membership(tenant_id=owner.tenant_id, user_id=guest.user_id, role="member"))
    row = session.get(AuthSession, guest.session_id)
    assert row is not None
    row.tenant_id = owner.tenant_id
    session.commit()
    guest = dataclasses.replace(guest, tenant_id=owner.tenant_id, role="member")
    moved_to = members.leave_workspace(session=session, principal=guest, ctx=CTX)
    session.commit()
    assert moved_to not in (owner.tenant_id, gus_home) and _role(session, moved_to, guest.user_id) == "owner"


def test_the_last_owner_and_the_only_member_cannot_leave(session: Session) -> None:
    alone = signed_in(session, "solo@example.com")
    with pytest.raises(Conflict) as only:
        members.leave_workspace(session=session, principal=alone, ctx=CTX)
    assert "Delete the workspace instead" in only.value.message
    owner, _, _ = _team(session)
    with pytest.raises(Conflict) as last:
        members.leave_workspace(session=session, principal=owner, ctx=CTX)
    assert "at least one owner" in last.value.message
    with pytest.raises(Forbidden):
        members.leave_workspace(session=session, principal=dataclasses.replace(owner, via="api_key"), ctx=CTX)


def test_two_owners_demoting_each_other_at_once_leave_one_owner(session: Session) -> None:
    """The last-owner check and the change run one at a time per workspace (`lock_workspace`): of two
    owners stepping each other down at the same moment, one wins and the other is told why."""
    owner, admin, _ = _team(session)
    members.change_role(session=session, principal=owner, user_id=admin.user_id, role="owner", ctx=CTX)
    session.commit()
    second = dataclasses.replace(admin, role="owner")
    start = threading.Barrier(2)

    def demote(actor: Principal, target: Principal) -> str:
        with Session(get_engine()) as own:
            start.wait()
            try:
                members.change_role(session=own, principal=actor, user_id=target.user_id, role="member", ctx=CTX)
                own.commit()
                return "changed"
            except Conflict as exc:
                own.rollback()
                return exc.message

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(lambda pair: demote(*pair), [(owner, second), (second, owner)]))
    assert outcomes == [members.LAST_OWNER, "changed"]
    roles = {_role(session, owner.tenant_id, p.user_id) for p in (owner, second)}
    assert roles == {"owner", "member"}


def test_the_page_asks_the_same_rules_before_offering_leave_or_stepping_down(session: Session) -> None:
    alone = signed_in(session, "solo@example.com")
    assert members.leave_refusal(session=session, principal=alone) == members.ONLY_MEMBER
    owner, admin, member = _team(session)
    assert members.leave_refusal(session=session, principal=owner) == members.LAST_OWNER
    assert members.leave_refusal(session=session, principal=member) == ""
    assert [members.may_change_own_role(session=session, principal=p) for p in (owner, admin, member)] == [
        False, True, False]  # the last owner may not step down; a member manages no roles
    members.change_role(session=session, principal=owner, user_id=admin.user_id, role="owner", ctx=CTX)
    session.commit()
    assert members.may_change_own_role(session=session, principal=owner) is True
    assert members.leave_refusal(session=session, principal=owner) == ""
