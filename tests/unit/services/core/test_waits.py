"""Every wait a person reads is in plain words, from one formatter (issue 9, item 5)."""

from __future__ import annotations

import re

import pytest

from saas_app.services.core.errors import RateLimited, ServiceUnavailable
from saas_app.services.core.waits import plain_wait
from saas_app.settings import PROJECT_ROOT


@pytest.mark.parametrize(("seconds", "words"), [
    (0, "a few seconds"), (5, "a few seconds"), (30, "about 30 seconds"), (59.2, "about 1 minute"),
    (60, "about 1 minute"), (61, "about 2 minutes"), (3078, "about 52 minutes"), (3600, "about 1 hour"),
    (3900, "about 1 hour 5 minutes"), (3 * 3600 + 1200, "about 3 hours"), (3 * 3600 + 1800, "about 4 hours"),
    (3 * 86400, "about 3 days"),
])
def test_plain_wait(seconds: float, words: str) -> None:
    assert plain_wait(seconds) == words


def test_errors_that_carry_a_wait_say_it_in_plain_words() -> None:
    limited = RateLimited("Too many sign-in emails.", retry_after=3078)
    assert limited.message == "Too many sign-in emails. Try again in about 52 minutes." and limited.retry_after == 3078
    down = ServiceUnavailable("We couldn't send the email right now.", retry_after=60)
    assert down.message == "We couldn't send the email right now. Please try again in about 1 minute."


def test_no_code_formats_a_wait_by_hand() -> None:
    """A wait in a message comes from `retry_after` (formatted once), never from a number spelled into text."""
    by_hand = re.compile(r"(again in|wait)[^\"\n]*\{[^}]*\}[^\"\n]*(second|minute|hour|\bs\b)", re.IGNORECASE)
    offenders = [f"{path.relative_to(PROJECT_ROOT)}:{n}" for path in sorted((PROJECT_ROOT / "saas_app").rglob("*.py"))
                 if path.name != "waits.py"
                 for n, line in enumerate(path.read_text().splitlines(), start=1) if by_hand.search(line)]
    assert offenders == []
