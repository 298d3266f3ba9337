"""Who may do what in a workspace: the one place roles and their permissions are defined.

Every service that acts in a workspace calls `require(principal, Action.X)` before it changes or
shows anything; pages ask `allowed_actions(role)` to hide what a role cannot do. Adding an action
is one `Action` member plus its line in `_GRANTS` (and the matrix test's table).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from saas_app.services.core.errors import Forbidden


class Role(StrEnum):
    """A member's role in a workspace (`Membership.role`), from most to least powerful."""

    OWNER = "owner"  # billing, deleting the workspace, owners; everything an admin may do
    ADMIN = "admin"  # members, invitations and API keys; everything a member may do
    MEMBER = "member"  # create and view renders, see usage


class Action(StrEnum):
    """Something a role may be allowed to do in its workspace."""

    RENDER_CREATE = "render.create"
    RENDER_VIEW = "render.view"
    USAGE_VIEW = "usage.view"
    ASSET_MANAGE = "asset.manage"
    MEMBERS_VIEW = "members.view"
    MEMBERS_MANAGE = "members.manage"  # invite, resend, revoke, change roles below owner, remove
    OWNERS_MANAGE = "owners.manage"  # make or unmake an owner, remove an owner
    API_KEYS_MANAGE = "api_keys.manage"
    AUDIT_VIEW = "audit.view"
    BILLING_MANAGE = "billing.manage"
    BACKUPS_VIEW = "backups.view"
    WORKSPACE_DELETE = "workspace.delete"


_MEMBER = frozenset({Action.RENDER_CREATE, Action.RENDER_VIEW, Action.USAGE_VIEW, Action.ASSET_MANAGE,
                     Action.MEMBERS_VIEW})
_ADMIN = _MEMBER | {Action.MEMBERS_MANAGE, Action.API_KEYS_MANAGE, Action.AUDIT_VIEW}
_OWNER = _ADMIN | {Action.OWNERS_MANAGE, Action.BILLING_MANAGE, Action.BACKUPS_VIEW, Action.WORKSPACE_DELETE}
_GRANTS: dict[Role, frozenset[Action]] = {Role.OWNER: _OWNER, Role.ADMIN: _ADMIN, Role.MEMBER: _MEMBER}

# What a refusal says, in plain words (the role that may do it is named, so the user knows whom to ask).
_REFUSALS: dict[Action, str] = {
    Action.MEMBERS_MANAGE: "Only an owner or admin of this workspace can manage its members and invitations.",
    Action.OWNERS_MANAGE: "Only an owner of this workspace can make or remove owners.",
    Action.API_KEYS_MANAGE: "Only an owner or admin of this workspace can manage its API keys.",
    Action.AUDIT_VIEW: "Only an owner or admin of this workspace can see its activity log.",
    Action.BILLING_MANAGE: "Only an owner of this workspace can manage its plan and billing.",
    Action.BACKUPS_VIEW: "Only an owner of this workspace can see its backups.",
    Action.WORKSPACE_DELETE: "Only an owner of this workspace can delete it.",
}


# What each role may do, in a sentence (the confirmation before giving someone a role says it).
_ROLE_SUMMARIES: dict[Role, str] = {
    Role.OWNER: "Owners can manage billing and delete the workspace, as well as its members and API keys.",
    Role.ADMIN: "Admins can manage members, invitations and API keys, but not billing or owners.",
    Role.MEMBER: "Members can create and watch videos and see usage, but not manage the team.",
}


class HasRole(Protocol):
    """Anything that carries a role in a workspace (a `Principal`)."""

    @property
    def role(self) -> str: ...


def role_of(value: str) -> Role:
    """The role named `value`; an unknown name (a row from a newer version) counts as member."""
    try:
        return Role(value)
    except ValueError:
        return Role.MEMBER


def can(role: str, action: Action) -> bool:
    """Whether a role may do `action`."""
    return action in _GRANTS[role_of(role)]


def allowed_actions(role: str) -> frozenset[Action]:
    """Everything a role may do (pages show only these)."""
    return _GRANTS[role_of(role)]


def require(principal: HasRole, action: Action) -> None:
    """Refuse unless the caller's role allows `action`.

    Raises:
        Forbidden: The role does not allow it (403, with a plain message naming who may).
    """
    if not can(principal.role, action):
        raise Forbidden(_REFUSALS.get(action, "Your role in this workspace does not allow this."))


def assignable_roles(role: str) -> list[Role]:
    """The roles a member with `role` may give others (an owner any; an admin admin or member)."""
    if can(role, Action.OWNERS_MANAGE):
        return list(Role)
    if can(role, Action.MEMBERS_MANAGE):
        return [Role.ADMIN, Role.MEMBER]
    return []


def describe_role(role: str) -> str:
    """What `role` may do, in one plain sentence ("Owners can manage billing and ...")."""
    return _ROLE_SUMMARIES[role_of(role)]
