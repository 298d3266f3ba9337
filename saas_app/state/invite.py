"""The invitation page: what an invitation link offers, and accepting it as the invited address.

The token comes in the URL's query and stays in a backend-only var; the page is served with
`Referrer-Policy: no-referrer` (api/security_headers.py) so it never leaves in a Referer header.
"""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.services.core.errors import AppError
from saas_app.services.teams import invitations
from saas_app.services.teams.status import InvitationStatus
from saas_app.state.formatting import format_date
from saas_app.state.session import SessionState, show_error

TOKEN_MAX = 200
# What the page says for an invitation that cannot be accepted any more.
ENDED = {
    InvitationStatus.EXPIRED: "This invitation has expired. Ask the person who invited you to send it again.",
    InvitationStatus.REVOKED: "This invitation was withdrawn. Ask the person who invited you for a new one.",
    InvitationStatus.ACCEPTED: "This invitation was already used. If it was you, the workspace is in your "
                               "workspace menu.",
}


class InviteState(SessionState):
    """The invitation's details (display values) and whether the visitor may accept it."""

    checked: bool = False
    problem: str = ""  # why the invitation cannot be accepted ("" when it can)
    workspace_name: str = ""
    inviter: str = ""
    invited_email: str = ""
    role_label: str = ""
    expires: str = ""
    visitor_email: str = ""  # who is signed in in this browser ("" when nobody)
    is_invitee: bool = False  # the signed-in visitor is the invited address
    error: str = ""
    accepting: bool = False
    _token: str = ""

    @rx.event
    async def on_load(self):
        """Read the token and look the invitation up (nothing is consumed)."""
        self.checked, self.error, self.problem, self.workspace_name, self.is_invitee = False, "", "", "", False
        self._token = self.router.url.query_parameters.get("token", "")[:TOKEN_MAX]
        principal = await self._resolve_principal()
        self.visitor_email = principal.email if principal else ""
        try:
            preview = await self._call(invitations.get_invitation_preview, token=self._token)
        except AppError as exc:
            self.problem, self.checked = exc.message, True
            return
        self.workspace_name, self.inviter = preview.workspace_name, preview.inviter_email or "A member"
        self.invited_email, self.role_label = preview.email, preview.role.title()
        self.problem = ENDED.get(InvitationStatus(preview.status), "")
        self.expires = "" if self.problem else format_date(preview.expires_at)  # an ended link is valid no more
        self.is_invitee = self.visitor_email.lower() == preview.email.lower()
        self.checked = True

    def _sign_in_path(self) -> str:
        return routes.login_with_next(routes.invite_link(self._token), self.invited_email)

    @rx.event
    def sign_in(self):
        """To the sign-in page as the invited address; the magic link brings the browser back here."""
        return rx.redirect(self._sign_in_path())

    @rx.event
    async def accept(self):
        """Accept as the signed-in invited address, then open the workspace's library."""
        principal = await self._resolve_principal()
        if principal is None:
            yield rx.redirect(self._sign_in_path())
            return
        self.accepting, self.error = True, ""
        yield
        try:
            await self._call(invitations.accept_invitation, principal=principal, token=self._token,
                             ctx=self._request_context())
        except AppError as exc:
            self.error = exc.message
            yield show_error("invite-error")
            return
        finally:
            self.accepting = False
        yield rx.call_script(f"window.location.assign('{routes.LIBRARY}')")  # a full load, in the new workspace
