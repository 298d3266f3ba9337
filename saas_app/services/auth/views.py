"""Typed views of the caller and of issued tokens."""

from __future__ import annotations

from typing import Literal

from saas_app.services.auth.sessions import Principal, TokenPair
from saas_app.services.core.views import View


class Me(View):
    """Who the caller is: user, workspace (tenant), roles and the plan in force."""

    user_id: str
    tenant_id: str
    email: str
    roles: list[str]
    plan: str

    @classmethod
    def from_principal(cls, principal: Principal) -> Me:
        """The view of a verified caller."""
        return cls(user_id=principal.user_id, tenant_id=principal.tenant_id, email=principal.email,
                   roles=[principal.role], plan=principal.plan)


class TokenResponse(View):
    """OAuth 2.0 style bearer tokens: `expires_in` is the access token's lifetime in seconds."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: Me

    @classmethod
    def from_pair(cls, pair: TokenPair) -> TokenResponse:
        """The answer after sign-in or refresh."""
        return cls(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in,
                   user=Me.from_principal(pair.principal))
