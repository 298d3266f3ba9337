"""Team routes: members and roles, invitations, leaving; the invitation link's preview and accept.

Every team route is for a signed-in person (an API key gets 403); what each role may do is decided
by the services (`services/teams/permissions.py`), which answer 403 in plain words.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from saas_app.api.capacity import ApiRoute
from saas_app.api.deps import Context, DbSession, UserPrincipal
from saas_app.api.errors import AUTH, BODY, errors
from saas_app.api.params import PathId
from saas_app.api.schemas import Revoked
from saas_app.services.auth.principal import Principal
from saas_app.services.auth.views import Me, TokenResponse
from saas_app.services.teams import invitations, members
from saas_app.services.teams.arrival import arrive_in
from saas_app.services.teams.invitations import InvitationPreview, InvitationView
from saas_app.services.teams.members import MemberView

router = APIRouter(route_class=ApiRoute, tags=["team"])
InviteToken = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$",
                                  description="The token of an invitation link (`/invite?token=...`).")]


class RoleChange(BaseModel):
    role: str = Field(max_length=16, description="owner, admin or member (only an owner gives or takes owner).")


class NewInvitation(BaseModel):
    email: str = Field(max_length=320, description="The address to invite (they sign in with it to accept).")
    role: str = Field(default="member", max_length=16, description="owner, admin or member.")


class Removed(BaseModel):
    """The member with this user id is no longer in the workspace; their sessions and keys there ended."""

    user_id: str
    removed: bool = True


class InWorkspace(BaseModel):
    """The caller in the workspace this session now acts in. An API session also gets a new token pair
    (its older access tokens name the old workspace and stop working); a browser's cookie stays."""

    tenant_id: str
    user: Me
    tokens: TokenResponse | None = None


def _now_in(session: DbSession, principal: Principal, tenant_id: str, ctx: Context) -> InWorkspace:
    """The answer after this session moved to `tenant_id`."""
    moved, pair = arrive_in(session=session, principal=principal, tenant_id=tenant_id, ctx=ctx)
    return InWorkspace(tenant_id=tenant_id, user=Me.from_principal(moved),
                       tokens=TokenResponse.from_pair(pair) if pair else None)


@router.get("/api/team/members", response_model=list[MemberView], responses=errors(*AUTH))
def list_members(principal: UserPrincipal, session: DbSession) -> list[MemberView]:
    """Everyone in the current workspace with their role and last activity, owners first."""
    return members.list_members(session=session, principal=principal)


@router.patch("/api/team/members/{user_id}", response_model=MemberView, responses=errors(*AUTH, *BODY, 404, 409))
def change_role(user_id: PathId, body: RoleChange, principal: UserPrincipal, session: DbSession,
                ctx: Context) -> MemberView:
    """Give a member another role (owners and admins; only owners touch the owner role; one owner stays)."""
    return members.change_role(session=session, principal=principal, user_id=user_id, role=body.role, ctx=ctx)


@router.delete("/api/team/members/{user_id}", response_model=Removed, responses=errors(*AUTH, 404, 409, 422))
def remove_member(user_id: PathId, principal: UserPrincipal, session: DbSession, ctx: Context) -> Removed:
    """Remove a member: their sessions and API keys in this workspace end at once; their renders stay."""
    members.remove_member(session=session, principal=principal, user_id=user_id, ctx=ctx)
    return Removed(user_id=user_id)


@router.post("/api/team/leave", response_model=InWorkspace, responses=errors(*AUTH, 409))
def leave(principal: UserPrincipal, session: DbSession, ctx: Context) -> InWorkspace:
    """Leave the current workspace; this session moves to your most recent other one (or a new one)."""
    tenant_id = members.leave_workspace(session=session, principal=principal, ctx=ctx)
    return _now_in(session, principal, tenant_id, ctx)


@router.get("/api/team/invitations", response_model=list[InvitationView], responses=errors(*AUTH))
def list_invitations(principal: UserPrincipal, session: DbSession) -> list[InvitationView]:
    """Invitations not yet accepted or withdrawn (pending and expired), newest first."""
    return invitations.list_invitations(session=session, principal=principal)


@router.post("/api/team/invitations", status_code=201, response_model=InvitationView,
             responses=errors(*AUTH, *BODY, 402, 409, 429))
def create_invitation(body: NewInvitation, principal: UserPrincipal, session: DbSession,
                      ctx: Context) -> InvitationView:
    """Invite an address with a role: they get an email with a link that works once for 7 days."""
    return invitations.create_invitation(session=session, principal=principal, email=body.email, role=body.role,
                                         ctx=ctx)


@router.post("/api/team/invitations/{invitation_id}/resend", response_model=InvitationView,
             responses=errors(*AUTH, 402, 404, 422, 429))
def resend_invitation(invitation_id: PathId, principal: UserPrincipal, session: DbSession,
                      ctx: Context) -> InvitationView:
    """Email the invitation again with a new link (the old link stops working) valid 7 more days."""
    return invitations.resend_invitation(session=session, principal=principal, invitation_id=invitation_id, ctx=ctx)


@router.delete("/api/team/invitations/{invitation_id}", response_model=Revoked, responses=errors(*AUTH, 404, 422))
def revoke_invitation(invitation_id: PathId, principal: UserPrincipal, session: DbSession, ctx: Context) -> Revoked:
    """Withdraw an invitation: its link stops working and its seat is free again."""
    invitations.revoke_invitation(session=session, principal=principal, invitation_id=invitation_id, ctx=ctx)
    return Revoked(id=invitation_id)


@router.get("/api/invitations/{token}", response_model=InvitationPreview, responses=errors(404, 422))
def preview_invitation(token: InviteToken, session: DbSession) -> InvitationPreview:
    """What an invitation link invites to (no sign-in: the link is the secret)."""
    return invitations.get_invitation_preview(session=session, token=token)


@router.post("/api/invitations/{token}/accept", response_model=InWorkspace,
             responses=errors(*AUTH, 402, 404, 409, 410, 422))
def accept_invitation(token: InviteToken, principal: UserPrincipal, session: DbSession, ctx: Context) -> InWorkspace:
    """Join the workspace as the invited address; it becomes this session's current workspace."""
    tenant_id = invitations.accept_invitation(session=session, principal=principal, token=token, ctx=ctx)
    return _now_in(session, principal, tenant_id, ctx)
