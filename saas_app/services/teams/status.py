"""The statuses of a team invitation: the only place they are spelled."""

from __future__ import annotations

from enum import StrEnum


class InvitationStatus(StrEnum):
    """Where an invitation stands (the pending list shows only PENDING and EXPIRED ones)."""

    PENDING = "pending"  # its link works until `expires_at`, once
    EXPIRED = "expired"  # not accepted in time; resend it for a new link
    ACCEPTED = "accepted"
    REVOKED = "revoked"
