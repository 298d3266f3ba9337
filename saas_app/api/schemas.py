"""Small acknowledgements and lists only the HTTP API answers with (the domain views live in services)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from saas_app.services.account.status import DeletionStatus
from saas_app.services.billing.views import PlanView
from saas_app.services.billing.webhooks import WebhookResult
from saas_app.services.core.views import IsoDatetime
from saas_app.services.renders.views import TemplateView, VoiceView


class MagicLinkSent(BaseModel):
    """The same answer for every valid address (it never says whether an account exists)."""

    status: Literal["sent"] = "sent"
    message: str = "If the address can receive email, a sign-in link is on its way."


class SignedOut(BaseModel):
    """This session ended."""

    status: Literal["signed_out"] = "signed_out"


class SignedOutEverywhere(BaseModel):
    """Every session of the user ended; `sessions_ended` counts them."""

    status: Literal["signed_out_everywhere"] = "signed_out_everywhere"
    sessions_ended: int


class RenderCanceled(BaseModel):
    """The render and its new status."""

    id: str
    status: str


class Deleted(BaseModel):
    """The thing with this id is deleted."""

    id: str
    deleted: Literal[True] = True


class Revoked(BaseModel):
    """The key or session with this id no longer works."""

    id: str
    revoked: Literal[True] = True


class TemplateList(BaseModel):
    """The visual templates."""

    templates: list[TemplateView]


class VoiceList(BaseModel):
    """The narration voices."""

    voices: list[VoiceView]


class PlanList(BaseModel):
    """The plan catalogue."""

    plans: list[PlanView]


class RedirectUrl(BaseModel):
    """A Stripe page to send the user to."""

    url: str


class WebhookReceipt(BaseModel):
    """Stripe's event was received; `result` says what it did (applied, duplicate, ignored, stale)."""

    received: Literal[True] = True
    result: WebhookResult


class ExportQueued(BaseModel):
    """The export being prepared."""

    id: str
    status: str


class DeletionScheduled(BaseModel):
    """When the workspace will be deleted (cancel any time before)."""

    status: Literal[DeletionStatus.SCHEDULED] = DeletionStatus.SCHEDULED
    scheduled_for: IsoDatetime


class DeletionCanceled(BaseModel):
    """The deletion was canceled; nothing is lost."""

    status: Literal[DeletionStatus.CANCELED] = DeletionStatus.CANCELED
