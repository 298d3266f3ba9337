"""A user's role in their workspace."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Stored on `User.role`; the owner may delete the workspace and sees its backups."""

    OWNER = "owner"


OWNER = Role.OWNER
