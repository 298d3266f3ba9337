"""Workspace routes: the caller's workspaces, creating one, switching the current one."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from saas_app.api.capacity import ApiRoute
from saas_app.api.deps import Context, DbSession, UserPrincipal
from saas_app.api.errors import AUTH, BODY, errors
from saas_app.api.params import PathId
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.views import Me, TokenResponse
from saas_app.services.teams import memberships
from saas_app.services.teams.memberships import WORKSPACE_NAME_MAX, WorkspaceView
from saas_app.services.teams.switching import switch_workspace

router = APIRouter(route_class=ApiRoute, prefix="/api/workspaces", tags=["workspaces"])


class NewWorkspace(BaseModel):
    name: str = Field(max_length=200, description=f"1 to {WORKSPACE_NAME_MAX} characters.")


class Switched(BaseModel):
    """The caller in the workspace switched to. An API session also gets a new token pair (its
    older access tokens name the old workspace and stop working); a browser session's cookie stays."""

    user: Me
    tokens: TokenResponse | None = None


@router.get("", response_model=list[WorkspaceView], responses=errors(*AUTH))
def list_workspaces(principal: UserPrincipal, session: DbSession) -> list[WorkspaceView]:
    """Every workspace the caller belongs to, with their role there; `current` marks this session's."""
    return memberships.list_workspaces(session=session, user_id=principal.user_id,
                                       current_tenant_id=principal.tenant_id)


@router.post("", status_code=201, response_model=WorkspaceView, responses=errors(*AUTH, *BODY))
def create_workspace(body: NewWorkspace, principal: UserPrincipal, session: DbSession, ctx: Context) -> WorkspaceView:
    """Create a workspace on the Free plan with the caller as its owner (the current one stays current)."""
    return memberships.create_workspace_for(session=session, user_id=principal.user_id, name=body.name, ctx=ctx,
                                            current_tenant_id=principal.tenant_id)


@router.post("/{tenant_id}/switch", response_model=Switched, responses=errors(*AUTH, 404, 422))
def switch(tenant_id: PathId, principal: UserPrincipal, session: DbSession, ctx: Context) -> Switched:
    """Make a workspace the caller belongs to the current one of this session."""
    switched = switch_workspace(session=session, principal=principal, tenant_id=tenant_id, ctx=ctx)
    tokens = None
    if auth_sessions.is_api_session(session=session, session_id=principal.session_id):
        tokens = TokenResponse.from_pair(auth_sessions.issue_api_tokens(session=session, principal=switched))
    return Switched(user=Me.from_principal(switched), tokens=tokens)
