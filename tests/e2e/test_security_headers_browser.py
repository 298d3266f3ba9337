"""Security headers in Chromium (issue 9, item 6): every page works under its Content-Security-Policy
(no violation, the websocket connects and the page fills in), HTML and API answers carry each
header, and the sign-in link page sends no Referer at all.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from e2e_helpers import LiveApp, expect_signed_in, link_of, open_login, request_link
from playwright.sync_api import ConsoleMessage, Page, Request, expect

pytestmark = pytest.mark.e2e

_WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def _watch_csp(page: Page) -> list[str]:
    """CSP complaints from the console; the page's own violation events are read with `_violations`."""
    console: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            console.append(message.text)

    page.add_init_script(_WATCH_VIOLATIONS)
    page.on("console", on_console)
    return console


def _violations(page: Page) -> list[str]:
    return list(page.evaluate("window.__cspViolations || []"))


def _check_page_headers(headers: dict[str, str], referrer: str = "same-origin") -> None:
    csp = headers["content-security-policy"]
    assert "'sha256-" in csp and "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == referrer
    assert "strict-transport-security" not in headers  # plain HTTP here (SECURE_COOKIES off)


def test_every_page_runs_under_its_csp(page: Page, live_app: LiveApp, sign_in: Callable[..., object],
                                       email: str) -> None:
    console = _watch_csp(page)
    page.goto("/login")
    _check_page_headers(page.request.get("/login").headers)
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    sign_in(page, email)  # the verify page, its form post, then /create, all under the policy
    for path, heading in (("/library", "Library"), ("/billing", "Billing"), ("/account", "Account"),
                          ("/create", "Create a video"), ("/render/unknown", None)):
        page.goto(path)  # (maybe revalidated from the cache: a 304, whose page keeps its policy)
        _check_page_headers(page.request.get(path).headers)  # the headers as served, uncached
        expect_signed_in(page, email, path)  # the websocket connected and the state arrived
        if heading:
            expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        assert _violations(page) == [], path
    assert console == []


def test_api_answers_carry_the_headers(page: Page, live_app: LiveApp) -> None:
    for path, status in (("/api/health", 200), ("/api/auth/me", 401), ("/api/nothing-here", 404)):
        response = page.request.get(path)
        assert response.status == status
        headers = response.headers
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin" and "strict-transport-security" not in headers


def test_the_sign_in_link_page_leaks_its_token_to_nobody(page: Page, live_app: LiveApp, email: str) -> None:
    open_login(page)
    link = link_of(request_link(page, live_app, email))
    token = link.split("token=", 1)[1]
    console = _watch_csp(page)
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))

    response = page.goto(link)
    assert response is not None
    _check_page_headers(response.all_headers(), referrer="no-referrer")
    expect(page.locator("#verify-email")).to_have_text(email)
    page.locator("#confirm-sign-in").click()
    expect_signed_in(page, email)

    after_page = [r for r in sent if r.url != link]
    assert len(after_page) > 5, "the page's assets and the sign-in post were recorded"
    assert any(r.method == "POST" for r in after_page)
    leaking = [r.url for r in after_page if token in (r.all_headers().get("referer") or "")]
    assert leaking == []
    assert _violations(page) == [] and console == []
