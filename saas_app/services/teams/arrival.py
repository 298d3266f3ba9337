"""After a session moved to another workspace (accepting an invitation, leaving one): the caller there."""

from __future__ import annotations

from sqlmodel import Session

from saas_app.models import AuthSession
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.auth.principal import Principal
from saas_app.services.teams.switching import switch_workspace


def arrive_in(*, session: Session, principal: Principal, tenant_id: str,
              ctx: RequestContext) -> tuple[Principal, auth_sessions.TokenPair | None]:
    """The caller's principal in `tenant_id` (the session's current workspace now, or made so) and, for
    an API session, a new token pair (its older access tokens name the old workspace and stop working;
    a browser session's cookie stays valid).

    Raises:
        Forbidden: The caller is an API key.
        NotFound: The caller is not a member of `tenant_id`.
    """
    moved = switch_workspace(session=session, principal=principal, tenant_id=tenant_id, ctx=ctx)
    row = session.get(AuthSession, principal.session_id) if principal.session_id else None
    if row is None or row.kind == "browser":
        return moved, None
    return moved, auth_sessions.issue_api_tokens(session=session, principal=moved)
