"""How a job or a delivery ended, as the metrics and logs label it (render steps use `StepStatus`)."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """The `outcome` label of `narrated_account_jobs_total` and `narrated_emails_total`."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # a job that found nothing to do (e.g. a deletion canceled meanwhile)
    SENT = "sent"
