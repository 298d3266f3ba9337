"""Switching the workspace a signed-in session acts in."""

from __future__ import annotations

from sqlmodel import Session

from saas_app.models import AuthSession, Tenant, User, utcnow
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.auth.principal import Principal, principal_for
from saas_app.services.core.errors import Forbidden
from saas_app.services.teams.memberships import create_workspace_for, get_membership_or_raise


def switch_workspace(*, session: Session, principal: Principal, tenant_id: str, ctx: RequestContext) -> Principal:
    """Make `tenant_id` the current workspace of the caller's session (committed by the caller).

    The session's older access tokens stop working (their `tid` is the old workspace); an API
    caller takes the new pair from `auth_sessions.issue_api_tokens`.

    Returns:
        The caller's principal in the new workspace.

    Raises:
        Forbidden: The caller is an API key (a key belongs to one workspace).
        NotFound: The caller is not a member of that workspace.
    """
    if principal.via == "api_key":
        raise Forbidden("An API key belongs to one workspace; create a key in the other workspace instead.")
    membership = get_membership_or_raise(session=session, tenant_id=tenant_id, user_id=principal.user_id)
    auth_session = session.get(AuthSession, principal.session_id)
    user = session.get(User, principal.user_id)
    tenant = session.get(Tenant, tenant_id)
    assert auth_session is not None and user is not None and tenant is not None
    if auth_session.tenant_id != tenant_id:
        auth_session.tenant_id = tenant_id  # the principal cache drops this session's proofs on flush
        session.add(auth_session)
        record_event(session=session, action="workspace.switched", ctx=ctx, tenant_id=tenant_id,
                     user_id=user.id, actor=principal.actor_name, target=auth_session.id,
                     details={"from": principal.tenant_id})
    membership.last_active_at = utcnow()
    session.add(membership)
    session.flush()
    return principal_for(user, tenant, membership, auth_session.id)


def create_and_switch(*, session: Session, principal: Principal, name: str, ctx: RequestContext) -> Principal:
    """Create a workspace owned by the caller and make it the current one of their session (the switcher's
    "Create workspace"; committed by the caller).

    Returns:
        The caller's principal in the new workspace.

    Raises:
        InvalidInput: The name is empty or too long.
        Forbidden: The caller is an API key.
    """
    if principal.via == "api_key":
        raise Forbidden("An API key belongs to one workspace; create a key in the other workspace instead.")
    created = create_workspace_for(session=session, user_id=principal.user_id, name=name, ctx=ctx,
                                   current_tenant_id=principal.tenant_id)
    return switch_workspace(session=session, principal=principal, tenant_id=created.tenant_id, ctx=ctx)
