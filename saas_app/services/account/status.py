"""The statuses of a data export and of an account deletion: the only place they are spelled."""

from __future__ import annotations

from enum import StrEnum


class ExportStatus(StrEnum):
    """A data export: queued until its job builds it, then ready until it expires."""

    QUEUED = "queued"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"


class DeletionStatus(StrEnum):
    """What became of a deletion request (the API's answer)."""

    SCHEDULED = "scheduled"
    CANCELED = "canceled"
