"""A plan added the way docs/extending.md says (one catalogue entry, plus its Stripe price setting)
is sold through Checkout on the local Stripe, limits quotas and concurrency, and gets a card."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from factories import bearer, render_payload, sign_in_api
from fastapi.testclient import TestClient
from stripe_server import (  # noqa: F401  (stripe_server is the session fixture)
    app_env,
    get_subscription,
    pay_checkout,
    price_for,
    reset_stripe,
    stripe_server,
)

import saas_app.settings as settings_module
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.services.usage.metrics import base_quotas
from saas_app.services.usage.plans import PLANS, Plan, sold_plans
from saas_app.settings import Settings, get_settings
from saas_app.state.billing import plan_cards
from saas_app.state.formatting import plan_quota_text

pytestmark = pytest.mark.db

TEAM = Plan("team", "Team", 99, 10, 2, True, ("10x the base quota", "2 renders at a time", "1080p output"),
            price_setting="STRIPE_PRICE_TEAM")


class TeamSettings(Settings):
    """Settings with the Team plan's price setting, as a real plan adds it to settings.py."""

    STRIPE_PRICE_TEAM: str = ""


@pytest.fixture
def team_billing(stripe_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # noqa: F811
    """The Team plan registered before Enterprise, and the app configured for the local Stripe."""
    monkeypatch.setattr(settings_module, "Settings", TeamSettings)
    with PLANS.extended(TEAM, before="enterprise"):
        reset_stripe(stripe_server)  # a price for every plan sold, Team's included
        for name, value in app_env(stripe_server).items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield stripe_server
    monkeypatch.undo()
    get_settings.cache_clear()


def _json(api: TestClient, path: str, headers: dict | None = None) -> dict:
    response = api.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_toy_plan_is_sold_limits_usage_and_gets_a_card(api: TestClient, mailbox: MailCatcher,
                                                         team_billing: str) -> None:
    assert price_for("team") == get_settings().STRIPE_PRICE_TEAM  # type: ignore[attr-defined]
    catalogue = _json(api, "/api/billing/plans")["plans"]
    assert [p["id"] for p in catalogue] == list(PLANS.names())
    assert PLANS.names().index("team") == PLANS.names().index("enterprise") - 1  # where the entry put it
    base = base_quotas(get_settings())
    [team] = [p for p in catalogue if p["id"] == "team"]
    assert team["limits"] == {m: q * 10 for m, q in base.items()} and team["concurrency"] == 2

    tokens = sign_in_api(api, mailbox, "team@example.com")
    headers = bearer(tokens["access_token"])
    refused = api.post("/api/billing/checkout", json={"plan": "free"}, headers=headers)
    assert refused.status_code == 422
    names = [p.name for p in sold_plans()]
    assert refused.json()["message"] == f"Choose the {', '.join(names[:-1])} or {names[-1]} plan."

    # Sold: Checkout on the local Stripe with the Team price, then the webhook moves the tenant to Team.
    response = api.post("/api/billing/checkout", json={"plan": "team"}, headers=headers)
    assert response.status_code == 200, response.text
    checkout, applied = pay_checkout(team_billing, api, response.json()["url"])
    assert applied.status_code == 200 and applied.json()["result"] == "applied", applied.text
    assert [i["price"]["id"] for i in checkout["line_items"]["data"]] == [price_for("team")]
    assert get_subscription(team_billing, checkout["subscription"])["status"] == "active"
    assert _json(api, "/api/auth/me", headers)["plan"] == "team"
    summary = _json(api, "/api/billing/subscription", headers)
    assert (summary["plan"], summary["status"], summary["billing_configured"]) == ("team", "active", True)

    # Quotas, premium options and concurrency follow the entry.
    usage = _json(api, "/api/usage", headers)
    assert usage["plan"] == "team" and {m: v["limit"] for m, v in usage["metrics"].items()} == team["limits"]
    first = api.post("/api/renders", json=render_payload(resolution="1080p"), headers=headers)
    assert first.status_code == 202, first.text  # premium
    assert api.post("/api/renders", json=render_payload(), headers=headers).status_code == 202
    third = api.post("/api/renders", json=render_payload(), headers=headers)
    assert third.status_code == 429 and "makes 2 videos at a time" in third.json()["message"]

    # The plan cards: one per plan, in catalogue order, Team's marked current.
    cards = plan_cards("team")
    assert [c["id"] for c in cards] == list(PLANS.names())
    [card] = [c for c in cards if c["id"] == "team"]
    assert card == {"id": "team", "name": "Team", "price": "$99/month",
                    "quota": plan_quota_text({m: v * 10 for m, v in base.items()}),
                    "features": "10x the base quota · 2 renders at a time · 1080p output", "current": "yes",
                    "sold": "yes"}
    assert card["quota"].startswith(f"Images {base['images_count'] * 10:,} · ")  # the banner's metric names
