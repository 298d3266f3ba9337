"""Seat messages per plan, the masked address of an invitation, and the invitation email's words."""

from __future__ import annotations

import pytest

from saas_app.services.core.errors import SeatLimitReached
from saas_app.services.teams.invitation_mail import _bodies
from saas_app.services.teams.invitations import mask_email
from saas_app.services.teams.seats import check_seat_free, seat_limit_message
from saas_app.services.usage.plans import get_plan


@pytest.mark.parametrize(("plan", "taken", "refused"), [
    ("free", 0, False), ("free", 1, True), ("pro", 4, False), ("pro", 5, True), ("enterprise", 10_000, False),
])
def test_a_seat_is_free_below_the_plans_seats(plan: str, taken: int, refused: bool) -> None:
    if refused:
        with pytest.raises(SeatLimitReached) as full:
            check_seat_free(plan_id=plan, taken=taken)
        assert full.value.seats == get_plan(plan).seats and full.value.upgrade_url.endswith("/billing")
    else:
        check_seat_free(plan_id=plan, taken=taken)


def test_the_seat_message_names_the_next_plan_with_more_seats() -> None:
    assert seat_limit_message(get_plan("free")) == ("Your Free plan has 1 seat and it is in use (pending "
                                                    "invitations count). Upgrade to Pro for 5 seats.")
    assert seat_limit_message(get_plan("pro")).endswith("Upgrade to Enterprise for unlimited seats.")


@pytest.mark.parametrize(("address", "masked"), [("ivan@example.com", "i***@example.com"),
                                                  ("a@b.example", "a***@b.example")])
def test_an_invited_address_is_shown_masked(address: str, masked: str) -> None:
    assert mask_email(address) == masked


def test_the_invitation_email_escapes_the_workspace_name_and_says_how_long_it_works() -> None:
    text, html = _bodies(link="http://x/invite?token=t&a=1", workspace="<Acme & Co>", inviter="o@example.com",
                         role="admin", days=7)
    assert "7 days" in text and "http://x/invite?token=t&a=1" in text and "<Acme & Co>" in text
    assert "&lt;Acme &amp; Co&gt;" in html and "<Acme" not in html and 'href="http://x/invite?token=t&amp;a=1"' in html
