"""The one error hierarchy services raise. Each carries a user-facing message."""

from __future__ import annotations

from saas_app.services.core.waits import plain_wait


class AppError(Exception):
    """Base class: `message` is safe to show to users; `code` is machine-readable."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidInput(AppError):
    """The request is well-formed but a value is not acceptable."""

    status_code = 422
    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AuthError(AppError):
    """Missing, invalid, expired or revoked credentials."""

    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    """Authenticated but not allowed."""

    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    """The thing does not exist in this tenant (never reveals other tenants)."""

    status_code = 404
    code = "not_found"


class RateLimited(AppError):
    """Too many requests; `retry_after` is in whole seconds.

    The message gets the wait appended in plain words ("Try again in about 52 minutes."),
    so callers say what was limited and never format a wait themselves.
    """

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        wait = max(1, int(retry_after))
        super().__init__(f"{message} Try again in {plain_wait(wait)}.")
        self.retry_after = wait


class ServiceUnavailable(AppError):
    """A dependency (Redis, database, mail) is down; retry later (`retry_after` seconds, appended to the
    message in plain words like `RateLimited`'s)."""

    status_code = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        wait = max(1, int(retry_after))
        super().__init__(f"{message} Please try again in {plain_wait(wait)}.")
        self.retry_after = wait


class QuotaExceeded(AppError):
    """The job would take the tenant over its monthly quota (402, with an upgrade path)."""

    status_code = 402
    code = "quota_exceeded"

    def __init__(self, message: str, *, metric: str, used: float, limit: float, requested: float,
                 upgrade_url: str) -> None:
        super().__init__(message)
        self.metric, self.used, self.limit, self.requested = metric, used, limit, requested
        self.upgrade_url = upgrade_url


class PlanRequired(AppError):
    """A premium feature on a plan that lacks it (402, naming the plan needed)."""

    status_code = 402
    code = "plan_required"

    def __init__(self, message: str, *, required_plan: str, upgrade_url: str) -> None:
        super().__init__(message)
        self.required_plan = required_plan
        self.upgrade_url = upgrade_url


class SeatLimitReached(AppError):
    """Every seat of the workspace's plan is taken by members and pending invitations (402, with an
    upgrade path)."""

    status_code = 402
    code = "seat_limit_reached"

    def __init__(self, message: str, *, seats: int, upgrade_url: str) -> None:
        super().__init__(message)
        self.seats = seats
        self.upgrade_url = upgrade_url


class Gone(AppError):
    """Something that existed but can no longer be used (an expired or withdrawn invitation: 410)."""

    status_code = 410
    code = "gone"


class InsufficientStorage(AppError):
    """The server is short of disk space (507)."""

    status_code = 507
    code = "insufficient_storage"


class Conflict(AppError):
    """The request conflicts with the current state (e.g. canceling a finished render)."""

    status_code = 409
    code = "conflict"


class BillingError(AppError):
    """Stripe could not be reached or refused the request (502); nothing was changed."""

    status_code = 502
    code = "billing_error"


class BillingNotConfigured(AppError):
    """No Stripe keys are set: the product runs on Free (503)."""

    status_code = 503
    code = "billing_not_configured"


class ExportGone(AppError):
    """The export link expired (410)."""

    status_code = 410
    code = "export_expired"


class InvalidSignature(AppError):
    """A Stripe webhook's `Stripe-Signature` does not verify (400)."""

    status_code = 400
    code = "invalid_signature"


class InvalidPayload(AppError):
    """A signed webhook body that is not the event it should be."""

    status_code = 400
    code = "invalid_payload"
