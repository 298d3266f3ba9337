"""Seats: how many members (pending invitations included) a workspace's plan allows."""

from __future__ import annotations

from saas_app.models import Tenant, utcnow
from saas_app.services.core.errors import SeatLimitReached
from saas_app.services.usage.plans import PLANS, Plan, effective_plan_id, get_plan
from saas_app.services.usage.quotas import upgrade_url


def plan_of(tenant: Tenant) -> Plan:
    """The plan in force for the workspace now (a past-due plan holds during its grace period)."""
    return get_plan(effective_plan_id(tenant.plan, tenant.plan_grace_until, utcnow()))


def _seats_text(seats: int | None) -> str:
    if seats is None:
        return "unlimited seats"
    return f"{seats} seat" if seats == 1 else f"{seats} seats"


def seat_limit_message(plan: Plan) -> str:
    """Why a seat cannot be taken, naming the next plan with more seats (if any)."""
    seats = plan.seats or 0
    used = "it is in use" if seats == 1 else "they are all in use"
    larger = next((p for p in PLANS if p.seats is None or p.seats > seats), None)
    upgrade = f" Upgrade to {larger.name} for {_seats_text(larger.seats)}." if larger else ""
    return (f"Your {plan.name} plan has {_seats_text(seats)} and {used} (pending invitations count)."
            f"{upgrade}")


def check_seat_free(*, plan_id: str, taken: int) -> None:
    """Refuse one more member or invitation when `taken` seats already fill the plan's.

    Raises:
        SeatLimitReached: Every seat is taken (402, with the upgrade URL).
    """
    plan = get_plan(plan_id)
    if plan.seats is not None and taken >= plan.seats:
        raise SeatLimitReached(seat_limit_message(plan), seats=plan.seats, upgrade_url=upgrade_url())
