"""What the browser tests share: the live app handle and the steps of signing in.

Imported as a top-level module (pytest puts this folder on sys.path for the conftest and
the tests beside it), so the name is unique to the e2e suite.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode

import redis
from playwright.sync_api import Locator, Page, expect

from saas_app.dev.mailcatcher import LINK_RE, MailCatcher
from saas_app.settings import PROJECT_ROOT

SCREENSHOT_DIR = PROJECT_ROOT / "var" / "screenshots"
MAIL_TIMEOUT = 15
UI_TIMEOUT_MS = 15_000
_SUBJECT_CODE_RE = re.compile(r"\(code (\d{6})\)")

expect.set_options(timeout=UI_TIMEOUT_MS)


@dataclass
class LiveApp:
    """The running app and the things tests inspect behind it."""

    base_url: str
    port: int
    mail: MailCatcher
    db_path: Path
    redis: redis.Redis
    tmp_dir: Path
    stripe_url: str = ""
    procs: list[subprocess.Popen] = field(default_factory=list)

    def url(self, path: str) -> str:
        """Absolute URL of an app path."""
        return f"{self.base_url}{path}"

    def db(self) -> sqlite3.Connection:
        """A plain sqlite3 connection to the app's database (test set-up only; commits on `with`)."""
        return sqlite3.connect(self.db_path, timeout=30)


def url_re(path: str, query: str | None = None) -> re.Pattern[str]:
    """An app URL on any host, with or without the static build's trailing slash.

    Args:
        path: The app path, e.g. "/login".
        query: A regex the query string (after "?") must match from its start; None: any or no query.
    """
    base = rf"^https?://[^/]+{re.escape(path.rstrip('/'))}/?"
    return re.compile(base + (rf"\?{query}" if query is not None else r"(\?.*)?$"))


def login_redirect_re(next_path: str) -> re.Pattern[str]:
    """The sign-in page that a signed-out visit to `next_path` lands on."""
    return url_re("/login", re.escape(urlencode({"next": next_path})) + "$")


def screenshot(page: Page, name: str) -> None:
    """Save what the user sees for humans to look at (var/ is git-ignored)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)


def link_of(message: EmailMessage) -> str:
    """The sign-in link in the plain-text part of a sign-in email."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, "the sign-in email has no text part"
    match = LINK_RE.search(body.get_content())
    assert match, "the sign-in email has no /auth/verify link"
    return match.group(0).rstrip(".,;)>\"'")


def code_of(message: EmailMessage) -> str:
    """The 6-digit code in a sign-in email's subject."""
    match = _SUBJECT_CODE_RE.search(str(message["Subject"]))
    assert match, f"no code in subject {message['Subject']!r}"
    return match.group(1)


def _mail_count(mail: MailCatcher, address: str) -> int:
    return sum(1 for m in mail.messages() if address.lower() in str(m.get("To", "")).lower())


def open_login(page: Page, next_path: str | None = None) -> None:
    """Go to the sign-in page and wait until its form shows."""
    page.goto("/login" + (f"?{urlencode({'next': next_path})}" if next_path else ""))
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()


def request_link(page: Page, live_app: LiveApp, address: str) -> EmailMessage:
    """On the sign-in form: type the address, ask for a link, and return the email that arrives."""
    before = _mail_count(live_app.mail, address)
    page.locator("#email").fill(address)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.locator("#sent-to")).to_have_text(address)
    return live_app.mail.wait_for(address, timeout=MAIL_TIMEOUT, count=before + 1)


def confirm_link(page: Page, link: str, address: str) -> None:
    """Open a sign-in link, check whom it signs in, and press the confirm button."""
    page.goto(link)
    expect(page.locator("#verify-email")).to_have_text(address)
    page.locator("#confirm-sign-in").click()


def expect_signed_in(page: Page, address: str, path: str = "/create") -> None:
    """The protected page at `path` shows, with the user's address in the top bar."""
    expect(page).to_have_url(url_re(path))
    expect(page.locator("#user-menu-button")).to_contain_text(address)


def sign_in(page: Page, live_app: LiveApp, address: str, next_path: str | None = None) -> EmailMessage:
    """The whole magic-link flow, ending on the protected page; returns the email used."""
    open_login(page, next_path)
    message = request_link(page, live_app, address)
    confirm_link(page, link_of(message), address)
    expect_signed_in(page, address, next_path or "/create")
    return message


def usage_bar(page: Page, metric: str) -> Locator:
    """The usage banner's wrapper of one metric (`images_count`, `tts_seconds`, `render_minutes`, `storage_mb`)."""
    return page.locator(f"#usage-banner [data-metric='{metric}']")


def expect_usage(page: Page, metric: str, value: str | re.Pattern[str], percent: str | None = None,
                 color: str | None = None) -> None:
    """The banner shows exactly `value` ("3 / 6") for a metric, and optionally its aria-valuenow and bar colour."""
    bar = usage_bar(page, metric)
    expect(bar.locator("p").nth(1)).to_have_text(value)
    if percent is not None:
        expect(bar.get_by_role("progressbar")).to_have_attribute("aria-valuenow", percent)
    if color is not None:
        expect(bar.locator("[data-color]")).to_have_attribute("data-color", color)


class Hydration:
    """Counts the page loads a tab has finished: Reflex sends `is_hydrated: true` once a page's
    on_load handlers are done (on a full load and on a client-side navigation alike).

    Create it before the first navigation; then `done = hydration.count`, navigate, and
    `hydration.wait_after(done)` before checking that something is absent from the page (an
    absence checked earlier passes vacuously, before the page's state has arrived).
    """

    _HYDRATED = re.compile(r'is_hydrated[a-z_]*\\?"\s*:\s*true')  # (the delta may arrive JSON-encoded twice)

    def __init__(self, page: Page) -> None:
        self.page = page
        self.count = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._on_frame))

    def _on_frame(self, payload: str | bytes) -> None:
        text = payload if isinstance(payload, str) else payload.decode(errors="replace")
        self.count += len(self._HYDRATED.findall(text))

    def wait_after(self, done: int, timeout_ms: int = UI_TIMEOUT_MS) -> None:
        """Wait until a page load finished after `done` were counted (the driver delivers frames while it waits)."""
        waited = 0
        while self.count <= done:
            assert waited < timeout_ms, "the page never finished loading (no is_hydrated frame)"
            self.page.wait_for_timeout(50)
            waited += 50


# The badge of a finished video: "Ready" in plain words (components/status_badge.py); the raw status
# is accepted until that wording lands, so these tests check the flow, not the badge's words.
READY_BADGE = re.compile(r"^(Ready|succeeded)$")


# Elements whose edge passes the viewport's, outside any scrolling box (a table that scrolls inside its
# card is allowed, and a line shortened with an ellipsis; anything else clipped counts as cut off).
_TOO_WIDE = """() => {
  const limit = document.documentElement.clientWidth;
  const scrolls = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
      const style = getComputedStyle(p), o = style.overflowX;
      if (o === 'auto' || o === 'scroll' || (o === 'hidden' && style.textOverflow === 'ellipsis')) return true; }
    return false; };
  const over = [...document.querySelectorAll('body *')].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && (r.right > limit + 1 || r.left < -1) && !scrolls(el)
      && getComputedStyle(el).position !== 'fixed';
  }).slice(0, 5).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className} right=${
      Math.round(el.getBoundingClientRect().right)} "${(el.textContent || '').slice(0, 40)}"`);
  return {scroll: document.documentElement.scrollWidth - limit, over};
}"""


def too_wide(page: Page) -> list[str]:
    """What passes the viewport's width on the page as it is now (empty when it all fits)."""
    found = page.evaluate(_TOO_WIDE)
    return [f"page scrolls sideways by {found['scroll']} px", *found["over"]] if found["scroll"] > 0 else found["over"]


def expect_no_horizontal_overflow(page: Page) -> None:
    """Nothing on the page is wider than the viewport, and the page does not scroll sideways."""
    assert not (offenders := too_wide(page)), offenders


def expect_in_viewport(page: Page, locator: Locator) -> None:
    """The element is entirely inside the viewport without scrolling (above the fold)."""
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (box, size)


_AXE_SOURCE = Path(__file__).parent / "vendor" / "axe.min.js"
# Every rule up to WCAG AA, the experimental ones too (as tests/e2e/test_ui_quality.py runs them).
_RUN_AXE = """async () => {
  const rules = axe.getRules().filter((rule) => !rule.tags.some((tag) => /aaa$/.test(tag)))
    .map((rule) => rule.ruleId);
  const options = {runOnly: {type: 'rule', values: rules}, resultTypes: ['violations']};
  return (await axe.run(document, options)).violations;
}"""


def axe_violations(page: Page) -> list[dict[str, object]]:
    """axe-core's serious and critical violations on the page as it is now (injected through eval, which the
    page's CSP allows for Reflex)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate("source => { (0, eval)(source); }", _AXE_SOURCE.read_text())
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5],
             "why": v["nodes"][0].get("failureSummary", "") if v["nodes"] else ""}
            for v in page.evaluate(_RUN_AXE) if v["impact"] in ("serious", "critical")]
