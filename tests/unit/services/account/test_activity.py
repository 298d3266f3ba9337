"""The activity log in plain words: every action the product records has a sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from saas_app.models import AuditLog
from saas_app.services.account.activity import SENTENCES, describe_device, describe_event

SOURCES = Path(__file__).resolve().parents[4] / "saas_app"
CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


def _recorded_actions() -> set[str]:
    found: set[str] = set()
    for path in SOURCES.rglob("*.py"):
        found |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text()))
    return found


def test_every_recorded_action_has_a_sentence() -> None:
    actions = _recorded_actions()
    assert "render.created" in actions and "auth.signed_in" in actions  # the scan finds them
    assert actions <= set(SENTENCES), f"no sentence for {sorted(actions - set(SENTENCES))}"


@pytest.mark.parametrize(("action", "agent", "sentence"), [
    ("render.created", CHROME_LINUX, "Created a video"),
    ("auth.signed_in", CHROME_LINUX, "Signed in from Chrome on Linux"),
    ("auth.signed_in", "", "Signed in from an unknown device"),
    ("billing.customer.subscription.updated", "", "Billing updated by Stripe"),
])
def test_sentences(action: str, agent: str, sentence: str) -> None:
    assert describe_event(AuditLog(action=action, user_agent=agent)) == sentence


def test_no_dotted_names_in_sentences() -> None:
    for action, template in SENTENCES.items():
        assert "." not in template and "_" not in template, action
    assert describe_device(CHROME_LINUX) == "Chrome on Linux"


def test_no_sentence_says_you() -> None:
    """Members see each other's actions, with the actor beside the sentence: "You created an API key" shown
    to someone who did not create it was wrong (QA of teams, F8)."""
    assert [action for action, text in SENTENCES.items() if re.search(r"\b(you|your)\b", text, re.I)] == []
