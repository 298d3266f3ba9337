"""What the team page and the session show, from service values (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from saas_app import routes
from saas_app.services.teams.invitations import InvitationView
from saas_app.services.teams.members import MemberView
from saas_app.services.teams.permissions import Role, assignable_roles, describe_role
from saas_app.state.session import SessionState
from saas_app.state.team import invitation_rows, member_rows, role_question, seats_text

WHEN = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)


def _member(email: str, role: str, is_you: bool = False) -> MemberView:
    return MemberView(user_id=email.split("@")[0], email=email, role=role, joined_at=WHEN, last_active_at=WHEN,
                      is_you=is_you)


def test_member_rows_mark_you_and_what_the_caller_may_change() -> None:
    views = [_member("o@x.com", "owner"), _member("a@x.com", "admin", is_you=True), _member("m@x.com", "member")]
    by_admin = member_rows(views, [r.value for r in assignable_roles(Role.ADMIN)])
    assert [(r["email"], r["role_label"], r["you"], r["editable"]) for r in by_admin] == [
        ("o@x.com", "Owner", "", ""), ("a@x.com", "Admin", "yes", ""), ("m@x.com", "Member", "", "yes")]
    assert by_admin[0]["joined"] == by_admin[0]["last_active"] == "30 Nov 2026, 09:05 UTC"
    by_owner = member_rows(views, [r.value for r in assignable_roles(Role.OWNER)])
    assert [r["editable"] for r in by_owner] == ["yes", "", "yes"]
    assert [r["editable"] for r in member_rows(views, [])] == ["", "", ""]


def test_invitation_rows_say_who_invited_and_until_when() -> None:
    view = InvitationView(id="i1", email="new@x.com", role="admin", invited_by="", created_at=WHEN, sent_at=WHEN,
                          expires_at=WHEN, status="expired")
    [row] = invitation_rows([view])
    assert row == {"id": "i1", "email": "new@x.com", "role_label": "Admin", "invited_by": "someone",
                   "sent": "30 Nov 2026, 09:05 UTC", "expires": "30 Nov 2026, 09:05 UTC", "status": "expired"}


def test_the_seats_line_names_the_plan() -> None:
    assert seats_text(3, "pro") == "3 of 5 seats used on Pro"
    assert seats_text(1, "free") == "1 of 1 seat used on Free"
    assert seats_text(7, "enterprise") == "7 seats used on Enterprise (unlimited)"


def test_the_session_shows_what_each_role_may_do() -> None:
    shown = {}
    for role in ("owner", "admin", "member", ""):
        values: dict[str, object] = {}
        SessionState._show_role.__get__(_Recorder(values))(role)  # type: ignore[attr-defined]
        shown[role] = (values["can_manage_billing"], values["can_manage_members"], values["can_manage_keys"])
    assert shown == {"owner": (True, True, True), "admin": (False, True, True), "member": (False, False, False),
                     "": (False, False, False)}


class _Recorder:
    """Stands in for a state: records what `_show_role` sets."""

    def __init__(self, values: dict[str, object]) -> None:
        object.__setattr__(self, "values", values)

    def __setattr__(self, name: str, value: object) -> None:
        self.values[name] = value  # type: ignore[attr-defined]


def test_the_invitation_and_access_lost_links() -> None:
    assert routes.invite_link("a b") == "/invite?token=a+b"
    assert routes.login_with_next("/invite?token=t", "x@y.com") == "/login?next=%2Finvite%3Ftoken%3Dt&address=x%40y.com"
    assert routes.login_with_next("/library") == "/login?next=%2Flibrary"
    assert routes.login_access_lost() == "/login?signed_out=access"


def test_an_owner_may_get_a_select_on_their_own_row_but_never_a_remove_button() -> None:
    views = [_member("o@x.com", "owner", is_you=True), _member("p@x.com", "owner")]
    rows = member_rows(views, ["owner", "admin", "member"], own_role=True)
    assert [(r["you"], r["editable"], r["removable"]) for r in rows if r["you"]] == [("yes", "yes", "")]


def test_the_role_confirmation_says_what_the_role_may_do() -> None:
    assert role_question("a@example.com", "owner") == (
        "Make a@example.com an owner?", describe_role("owner"), "Make owner")
    assert role_question("a@example.com", "member")[0] == "Make a@example.com a member?"
    assert describe_role("owner").startswith("Owners can manage billing and delete the workspace")
