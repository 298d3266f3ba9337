"""Database tables. Every tenant-owned row carries `tenant_id`.

Datetimes are timezone-aware UTC everywhere (SQLModel stores them as UTC); use `utcnow()`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from saas_app import routes
from saas_app.services.account.status import ExportStatus
from saas_app.services.renders.status import RenderStatus, StepStatus


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso_or_none(moment: datetime | None) -> str | None:
    """ISO 8601 text of a datetime, or None (the JSON form used by the API and exports)."""
    return moment.isoformat() if moment else None


def new_id() -> str:
    """A random 32-hex-digit id."""
    return uuid.uuid4().hex


class Tenant(SQLModel, table=True):
    """A workspace that owns renders, usage and a plan."""

    __table_args__ = (UniqueConstraint("stripe_customer_id", name="uq_tenant_stripe_customer_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    plan: str = Field(max_length=32)  # a new workspace starts on TENANT_DEFAULT_PLAN
    # While a payment is past due the plan holds until this moment, then Free applies.
    plan_grace_until: datetime | None = None
    stripe_customer_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person who signs in; a member of one or more workspaces (`Membership`)."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True}, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
    # Sign out everywhere: access tokens issued before this moment are refused.
    tokens_valid_after: datetime | None = None


class Membership(SQLModel, table=True):
    """A person's place in a workspace: their role (`services/teams/permissions.Role`) and last activity."""

    __table_args__ = (UniqueConstraint("tenant_id", "user_id", name="uq_membership_tenant_user"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=32)
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    # Sign-in, switching and requests move it (at most once a minute); a new sign-in opens the newest.
    last_active_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    """An invitation to join a workspace: a single-use link, stored as its SHA-256 only."""

    __table_args__ = (Index("ix_invitation_tenant_email", "tenant_id", "email"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    email: str = Field(max_length=320)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    invited_by: str = Field(max_length=32)  # a user id (kept when that person leaves)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None


class MagicLink(SQLModel, table=True):
    """A one-time sign-in link and code. Only hashes are stored."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    email: str = Field(max_length=320, index=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    code_hash: str = Field(max_length=64)
    next_path: str = Field(default=routes.CREATE, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    consumed_at: datetime | None = None
    failed_attempts: int = 0
    request_ip: str = Field(default="", max_length=64)


class AuthSession(SQLModel, table=True):
    """One signed-in device: a browser cookie or an API refresh-token family."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    kind: str = Field(default="browser", max_length=16)  # browser | api
    # Browser sessions: SHA-256 of the cookie value; API sessions: None.
    token_hash: str | None = Field(
        default=None, max_length=64, sa_column_kwargs={"unique": True}
    )
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=400)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None


class RefreshToken(SQLModel, table=True):
    """A refresh token (by JWT id) in a session's rotation chain."""

    jti: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(foreign_key="authsession.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=32)
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    rotated_at: datetime | None = None


class AuditLog(SQLModel, table=True):
    """An append-only record of something that changed in a tenant."""

    __table_args__ = (Index("ix_auditlog_tenant_created", "tenant_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str | None = Field(default=None, max_length=32)
    user_id: str | None = Field(default=None, max_length=32)
    actor: str = Field(default="", max_length=120)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=200)
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=400)
    request_id: str = Field(default="", max_length=64)
    details: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, index=True)


__all__ = [
    "AccountDeletion",
    "ApiKey",
    "AuditLog",
    "AuthSession",
    "DataExport",
    "Invitation",
    "MagicLink",
    "Membership",
    "RefreshToken",
    "Render",
    "StripeEvent",
    "Subscription",
    "RenderStep",
    "SQLModel",
    "Tenant",
    "UsageRecord",
    "User",
    "UserDeletion",
    "iso_or_none",
    "new_id",
    "utcnow",
]


class Render(SQLModel, table=True):
    """A requested video: its input, progress and result."""

    __table_args__ = (Index("ix_render_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", max_length=32)
    topic: str = Field(max_length=120)
    scenes_json: str = Field(sa_column=Column(Text, nullable=False))
    template: str = Field(default="aurora", max_length=32)
    voice: str = Field(default="en", max_length=32)
    resolution: str = Field(default="720p", max_length=8)
    # The format, captions and music chosen (`RenderInput.options`).
    options_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    status: str = Field(default=RenderStatus.QUEUED, max_length=16, index=True)
    error: str = Field(default="", max_length=500)
    notes: str = Field(default="", max_length=500)
    estimate_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    period: str = Field(max_length=7)  # YYYY-MM the job was admitted in
    attempts: int = 0
    duration_seconds: float = 0.0
    size_bytes: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deleted_at: datetime | None = None


class Asset(SQLModel, table=True):
    """A file a workspace uploaded for its renders (a scene image or a music track), in the object store."""

    __table_args__ = (Index("ix_asset_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", max_length=32)
    kind: str = Field(max_length=8)  # AssetKind
    name: str = Field(max_length=120)  # the uploaded file's name, as shown
    filename: str = Field(max_length=48)  # in the store, under `{tenant_id}/assets/`
    media_type: str = Field(max_length=32)
    size_bytes: int = 0
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    focus_x: float = 0.5  # the point a crop keeps in view, as fractions of width and height
    focus_y: float = 0.5
    created_at: datetime = Field(default_factory=utcnow)


class RenderStep(SQLModel, table=True):
    """One pipeline step of a render (speech, images, video)."""

    __table_args__ = (UniqueConstraint("render_id", "name", name="uq_renderstep_render_name"),)

    id: int | None = Field(default=None, primary_key=True)
    render_id: str = Field(foreign_key="render.id", index=True, max_length=32)
    tenant_id: str = Field(max_length=32, index=True)
    name: str = Field(max_length=16)
    position: int = 0
    status: str = Field(default=StepStatus.PENDING, max_length=16)
    progress: float = 0.0
    detail: str = Field(default="", max_length=300)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class UsageRecord(SQLModel, table=True):
    """The usage ledger: one row per metered step and metric, unique by `event_key`."""

    __table_args__ = (
        UniqueConstraint("event_key", name="uq_usagerecord_event_key"),
        Index("ix_usage_tenant_period", "tenant_id", "period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=32)
    render_id: str | None = Field(default=None, max_length=32, index=True)
    user_id: str | None = Field(default=None, max_length=32)
    metric: str = Field(max_length=32)
    amount: float
    period: str = Field(max_length=7)
    event_key: str = Field(max_length=160)
    created_at: datetime = Field(default_factory=utcnow)
    logged_at: datetime | None = None  # appended to the JSONL log


class Subscription(SQLModel, table=True):
    """A tenant's Stripe subscription as last reported by Stripe (one per tenant)."""

    tenant_id: str = Field(foreign_key="tenant.id", primary_key=True, max_length=32)
    stripe_subscription_id: str = Field(max_length=64, index=True)
    price_id: str = Field(default="", max_length=64)
    plan: str = Field(max_length=32)
    status: str = Field(default="", max_length=32)
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    past_due_since: datetime | None = None
    # Stripe's `created` of the newest event applied: older events never roll state back.
    state_at: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class StripeEvent(SQLModel, table=True):
    """Every webhook event applied, by Stripe's event id (a duplicate is ignored)."""

    id: str = Field(primary_key=True, max_length=100)
    type: str = Field(max_length=80)
    created: int = 0
    tenant_id: str | None = Field(default=None, max_length=32, index=True)
    received_at: datetime = Field(default_factory=utcnow)


class StripeObjectState(SQLModel, table=True):
    """The last state webhooks reported for one Stripe subscription or invoice, by its Stripe id.

    It orders events per object: a canceled subscription id is final, a paid invoice stays paid,
    and an invoice's failure older than a paid invoice of the same subscription is stale.
    """

    id: str = Field(primary_key=True, max_length=100)
    object: str = Field(max_length=32)  # Stripe's `object`: "subscription" or "invoice"
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    subscription_id: str | None = Field(default=None, max_length=100, index=True)  # an invoice's subscription
    status: str = Field(max_length=32)
    created: int = 0  # the object's own `created` (Unix seconds)
    state_at: int = 0  # the `created` of the newest event applied to it


class ApiKey(SQLModel, table=True):
    """A revocable API key: only its SHA-256 is stored; `prefix` identifies it in lists and logs."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", max_length=32)
    name: str = Field(max_length=80)
    prefix: str = Field(max_length=24, sa_column_kwargs={"unique": True})
    key_hash: str = Field(max_length=64)
    is_default: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class DataExport(SQLModel, table=True):
    """A GDPR export ZIP: built by a job, downloadable for 24 hours under an unguessable name."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", max_length=32)
    status: str = Field(default=ExportStatus.QUEUED, max_length=16)
    filename: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    size_bytes: int = 0
    created_at: datetime = Field(default_factory=utcnow, index=True)
    ready_at: datetime | None = None
    expires_at: datetime | None = None


class AccountDeletion(SQLModel, table=True):
    """A scheduled deletion of a whole workspace (tenant), cancellable until `scheduled_for`."""

    tenant_id: str = Field(foreign_key="tenant.id", primary_key=True, max_length=32)
    requested_by: str = Field(max_length=32)
    requested_at: datetime = Field(default_factory=utcnow)
    scheduled_for: datetime = Field(index=True)


class UserDeletion(SQLModel, table=True):
    """A scheduled deletion of one person's account, cancellable until `scheduled_for`."""

    user_id: str = Field(foreign_key="user.id", primary_key=True, max_length=32)
    requested_at: datetime = Field(default_factory=utcnow)
    scheduled_for: datetime = Field(index=True)
