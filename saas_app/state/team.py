"""The team page: members with their roles, invitations, seats; what a role may not do is not shown
(and the services refuse it anyway)."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import EventSpec

from saas_app import routes
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import AppError
from saas_app.services.teams import invitations, members
from saas_app.services.teams.invitations import InvitationView
from saas_app.services.teams.members import MemberView
from saas_app.services.teams.permissions import Role, assignable_roles, describe_role
from saas_app.services.teams.status import InvitationStatus
from saas_app.services.usage.plans import get_plan
from saas_app.state.formatting import format_date
from saas_app.state.session import SessionState, show_error
from saas_app.state.workspaces import WorkspacesState

PAGE_SIZE = 50
INVITATION_EXPIRED = InvitationStatus.EXPIRED.value  # the pending list marks these (pages import it from here)


def member_rows(views: list[MemberView], giveable: list[str], own_role: bool = False) -> list[dict[str, str]]:
    """Display rows; `editable` when the caller may change this member's role (their own only when
    `own_role`: the services let them step down), `removable` when they may remove them."""
    def editable(m: MemberView) -> bool:
        return m.role in giveable and (own_role or not m.is_you)

    return [{"id": m.user_id, "email": m.email, "role": m.role, "role_label": m.role.title(),
             "joined": format_date(m.joined_at), "last_active": format_date(m.last_active_at),
             "you": "yes" if m.is_you else "", "editable": "yes" if editable(m) else "",
             "removable": "yes" if m.role in giveable and not m.is_you else ""} for m in views]


def role_question(email: str, role: str) -> tuple[str, str, str]:
    """The confirmation before giving `email` the role `role`: title, what the role may do, button."""
    article = "an" if role[:1] in "aeiou" else "a"
    return f"Make {email} {article} {role}?", describe_role(role), f"Make {role}"


def invitation_rows(views: list[InvitationView]) -> list[dict[str, str]]:
    """Display rows of pending and expired invitations."""
    return [{"id": i.id, "email": i.email, "role_label": i.role.title(), "invited_by": i.invited_by or "someone",
             "sent": format_date(i.sent_at), "expires": format_date(i.expires_at), "status": i.status}
            for i in views]


def seats_text(taken: int, plan_id: str) -> str:
    """"3 of 5 seats used on Pro" (members and pending invitations), or unlimited."""
    plan = get_plan(plan_id)
    if plan.seats is None:
        return f"{taken} {'seat' if taken == 1 else 'seats'} used on {plan.name} (unlimited)"
    return f"{taken} of {plan.seats} {'seat' if plan.seats == 1 else 'seats'} used on {plan.name}"


class TeamState(SessionState):
    """One page of members and of invitations, the invite form and the confirmations."""

    loaded: bool = False
    members: list[dict[str, str]] = []
    member_total: int = 0
    member_page: int = 0
    invites: list[dict[str, str]] = []
    invite_total: int = 0
    invite_page: int = 0
    giveable: list[dict[str, str]] = []  # the roles the caller may give: value and label
    seats_line: str = ""
    invite_email: str = ""
    invite_role: str = Role.MEMBER.value
    invite_error: str = ""
    invite_upgrade: bool = False
    inviting: bool = False
    message: str = ""
    message_ok: bool = True
    confirm_kind: str = ""  # remove | revoke | leave | role
    confirm_id: str = ""
    confirm_email: str = ""
    confirm_role: str = ""  # the role a "role" confirmation gives
    confirm_title: str = ""  # a "role" confirmation's title, text and button
    confirm_body: str = ""
    confirm_button: str = ""
    leave_blocked: str = ""  # why the caller cannot leave ("" when they can), shown by the disabled button
    _member_rows: list[dict[str, str]] = []
    _invite_rows: list[dict[str, str]] = []

    @rx.var
    def member_pages(self) -> int:
        """How many pages of members there are."""
        return max(1, -(-self.member_total // PAGE_SIZE))

    @rx.var
    def invite_pages(self) -> int:
        """How many pages of invitations there are."""
        return max(1, -(-self.invite_total // PAGE_SIZE))

    def _show_pages(self) -> None:
        self.member_total, self.invite_total = len(self._member_rows), len(self._invite_rows)
        self.member_page = max(0, min(self.member_page, self.member_pages - 1))
        self.invite_page = max(0, min(self.invite_page, self.invite_pages - 1))
        start, istart = self.member_page * PAGE_SIZE, self.invite_page * PAGE_SIZE
        self.members = self._member_rows[start:start + PAGE_SIZE]
        self.invites = self._invite_rows[istart:istart + PAGE_SIZE]

    async def _reload(self, principal: Principal) -> None:
        roles = [r.value for r in assignable_roles(principal.role)]
        self.giveable = [{"value": r, "label": r.title()} for r in roles]
        views = await self._call(members.list_members, principal=principal)
        own_role = await self._call(members.may_change_own_role, principal=principal)
        self.leave_blocked = await self._call(members.leave_refusal, principal=principal)
        pending: list[InvitationView] = []
        if self.can_manage_members:
            pending = await self._call(invitations.list_invitations, principal=principal)
        self._member_rows, self._invite_rows = member_rows(views, roles, own_role), invitation_rows(pending)
        waiting = await self._call(invitations.count_pending, tenant_id=principal.tenant_id) if pending else 0
        self.seats_line = seats_text(len(views) + waiting, principal.plan)
        self._show_pages()
        self.loaded = True

    @rx.event
    async def load(self):
        """on_load of /team."""
        self.loaded, self.message, self.invite_error, self.confirm_kind = False, "", "", ""
        self.member_page = self.invite_page = 0
        await self._reload_signed_in()

    @rx.event
    def go_to(self, which: str, page: int):
        """Another page of members (`which` "members") or of invitations."""
        if which == "members":
            self.member_page = page
        else:
            self.invite_page = page
        self._show_pages()

    @rx.event
    def set_invite_email(self, value: str):
        """The address typed in the invite form."""
        self.invite_email, self.invite_error, self.invite_upgrade = value, "", False

    @rx.event
    def set_invite_role(self, value: str):
        """The role chosen in the invite form."""
        self.invite_role = value

    def _say(self, ok: bool, text: str) -> EventSpec | None:
        self.message, self.message_ok = text, ok
        return None if ok else show_error("team-message")

    @rx.event
    async def invite(self, form_data: dict[str, Any] | None = None):
        """Invite the typed address with the chosen role (an email with the link goes out)."""
        if form_data:
            self.invite_email = str(form_data.get("email", self.invite_email)).strip()[:320]
            self.invite_role = str(form_data.get("role", self.invite_role))[:20]
        principal = await self._resolve_principal()
        if principal is None:
            yield self._to_login()
            return
        self.inviting, self.invite_error, self.invite_upgrade, self.message = True, "", False, ""
        yield
        try:
            await self._call(invitations.create_invitation, principal=principal, ctx=self._request_context(),
                             email=self.invite_email, role=self.invite_role)
        except AppError as exc:
            self.invite_error, self.invite_upgrade = exc.message, exc.status_code == 402
            yield show_error("invite-error")
            return
        finally:
            self.inviting = False
        self._say(True, f"Invitation sent to {self.invite_email}.")
        self.invite_email = ""
        await self._reload(principal)

    @rx.event
    def ask_role(self, user_id: str, role: str):
        """A role chosen in a member's select: ask first (nothing changes until Confirm; the select
        keeps showing the current role)."""
        row = next((r for r in self._member_rows if r["id"] == user_id), None)
        self.members = list(self.members)  # the select shows the saved role again
        if row is None or role == row["role"] or role not in {g["value"] for g in self.giveable}:
            return
        self.confirm_kind, self.confirm_id, self.confirm_email, self.confirm_role = "role", user_id, row["email"], role
        self.confirm_title, self.confirm_body, self.confirm_button = role_question(row["email"], role)

    async def _change_role(self, user_id: str, email: str, role: str) -> EventSpec | None:
        outcome = await self._act(members.change_role, done=f"{email} is now {role.title()}.",
                                  user_id=user_id, role=role[:20])
        return self._to_login() if outcome is None else self._say(outcome.ok, outcome.message)

    @rx.event
    async def resend(self, invitation_id: str):
        """Send an invitation's email again (with a fresh 7-day link)."""
        outcome = await self._act(invitations.resend_invitation, done="Invitation sent again.",
                                  invitation_id=invitation_id)
        return self._to_login() if outcome is None else self._say(outcome.ok, outcome.message)

    @rx.event
    def ask(self, kind: str, target_id: str, email: str):
        """Open a confirmation: remove a member, revoke an invitation, or leave the workspace."""
        if kind in ("remove", "revoke", "leave"):
            self.confirm_kind, self.confirm_id, self.confirm_email = kind, target_id, email

    @rx.event
    def set_confirm_open(self, value: bool):
        """A confirmation closed without going ahead (Escape, Cancel)."""
        if not value:
            self.confirm_kind = ""

    @rx.event
    async def confirm(self):
        """Do what the open confirmation asked."""
        kind, target, email = self.confirm_kind, self.confirm_id, self.confirm_email
        self.confirm_kind = ""
        if kind == "leave":
            return await self._leave()
        if kind == "role":
            return await self._change_role(target, email, self.confirm_role)
        if kind == "remove":
            outcome = await self._act(members.remove_member, done=f"{email} was removed from the workspace.",
                                      user_id=target)
        elif kind == "revoke":
            outcome = await self._act(invitations.revoke_invitation, done=f"The invitation to {email} was revoked.",
                                      invitation_id=target)
        else:
            return None
        return self._to_login() if outcome is None else self._say(outcome.ok, outcome.message)

    async def _leave(self) -> EventSpec | None:
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        (await self.get_state(WorkspacesState))._access_watch = ""  # this tab moves on by itself
        try:
            await self._call(members.leave_workspace, principal=principal, ctx=self._request_context())
        except AppError as exc:
            return self._say(False, exc.message)
        return rx.call_script(f"window.location.assign('{routes.CREATE}')")
