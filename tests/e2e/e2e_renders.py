"""Steps of the render pages shared by the browser tests (create form, render page, database look-ups).

Imported as a top-level module like e2e_helpers, so the name is unique to the e2e suite.
"""

from __future__ import annotations

import re
import time

from e2e_helpers import LiveApp, url_re
from playwright.sync_api import Page, expect

from saas_app.services.renders.steps.registry import STEPS

STEP_COUNT = len(STEPS)  # the render page shows one row per registered step

RENDER_TIMEOUT_S = 90
RENDER_URL_RE = re.compile(r"^https?://[^/]+/render/([0-9a-f]{32})/?$")
SHORT_SCENES = [("Magma rises", None), ("Pressure builds", None), ("The volcano erupts", None)]
Scenes = list[tuple[str, str | None]]
EMPTY_STORAGE = "0 MB / 97.7 GB"  # the default 100,000 MB storage quota


def fill_form(page: Page, topic: str, scenes: Scenes) -> None:
    """On /create: type the topic and the scenes (adding scene cards as needed)."""
    expect(page.get_by_role("heading", name="Create a video")).to_be_visible()
    page.locator("#topic").fill(topic)
    for i, (text, narration) in enumerate(scenes):
        if i > 0:
            page.locator("#add-scene").click()
        expect(page.locator(f"#scene-text-{i}")).to_be_visible()
        page.locator(f"#scene-text-{i}").fill(text)
        if narration:
            page.locator(f"#scene-narration-{i}").fill(narration)
    expect(page.locator(".scene-card")).to_have_count(len(scenes))
    images = f"{len(scenes)} image" + ("s" if len(scenes) != 1 else "")
    expect(page.locator("#estimate")).to_contain_text(images)


def submit_render(page: Page) -> str:
    """Press "Create video", land on the render page and return the render's id."""
    page.locator("#create-submit").click()
    expect(page).to_have_url(RENDER_URL_RE)
    match = RENDER_URL_RE.match(page.url)
    assert match is not None
    return match.group(1)


def create_render(page: Page, topic: str, scenes: Scenes) -> str:
    """Open /create, fill it, submit; returns the render id (the page is on /render/<id>)."""
    if not url_re("/create").match(page.url):
        page.goto("/create")
    fill_form(page, topic, scenes)
    return submit_render(page)


def step_statuses(page: Page) -> list[str]:
    """The data-status of each step on the render page, in order."""
    return page.locator(".render-step").evaluate_all("els => els.map(e => e.dataset.status)")


def watch_steps(page: Page, timeout: float = RENDER_TIMEOUT_S) -> list[list[str]]:
    """Follow the step list (no reload) until every step is done; returns each distinct snapshot seen."""
    snapshots: list[list[str]] = []
    deadline = time.monotonic() + timeout
    while True:
        statuses = step_statuses(page)
        if statuses and (not snapshots or snapshots[-1] != statuses):
            snapshots.append(statuses)
        if statuses == ["done"] * STEP_COUNT:
            return snapshots
        assert "failed" not in statuses and "canceled" not in statuses, f"render ended badly: {snapshots}"
        assert time.monotonic() < deadline, f"render not done after {timeout}s: {snapshots}"
        page.wait_for_timeout(100)


def wait_succeeded(page: Page) -> None:
    """On a render page: wait until the render has succeeded and the player shows."""
    expect(page.locator(".render-step")).to_have_count(STEP_COUNT)
    watch_steps(page)
    expect(page.locator(".status-badge").first).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#render-video")).to_be_visible()


def render_count(live_app: LiveApp, email: str) -> int:
    """How many renders the workspace of `email` has in the database (deleted ones included)."""
    with live_app.db() as db:
        row = db.execute("SELECT count(*) FROM render r WHERE r.tenant_id = ?",
                         (tenant_of(live_app, email),)).fetchone()
    return int(row[0])


def tenant_of(live_app: LiveApp, email: str) -> str:
    """The id of the workspace a signed-up user was most recently active in."""
    with live_app.db() as db:
        row = db.execute("SELECT m.tenant_id FROM membership m JOIN user u ON u.id = m.user_id WHERE u.email = ? "
                         "ORDER BY m.last_active_at DESC LIMIT 1", (email,)).fetchone()
    assert row is not None, f"no user {email}"
    return str(row[0])
