"""Security headers on HTML and API responses (issue 9, item 6), in process.

The browser test (tests/e2e/test_security_headers_browser.py) checks the same on the app's own
pages in Chromium, with no CSP violation.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from shared_helpers import SettingsOverride

from saas_app.api.app import create_api

pytestmark = pytest.mark.db

RESPONSES = {"html": "/api/docs", "json": "/api/health", "json 404": "/api/no-such-thing"}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api(), base_url="http://testserver")


@pytest.mark.parametrize("kind", RESPONSES)
def test_framing_sniffing_and_referrer_headers(client: TestClient, kind: str) -> None:
    response = client.get(RESPONSES[kind])
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP (SECURE_COOKIES off)


def test_an_html_page_may_run_its_own_inline_scripts_and_nothing_injected(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["Content-Security-Policy"]
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", response.text, re.DOTALL)
    assert inline, "the docs page has an inline script"
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src "))
    assert "'unsafe-inline'" not in script_src  # (eval stays: Reflex runs server-sent client actions with it)
    assert "object-src 'none'" in csp and "base-uri 'self'" in csp


def test_a_json_answer_may_load_nothing(client: TestClient) -> None:
    csp = client.get("/api/health").headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'")


def test_hsts_only_when_served_over_https(app_settings: SettingsOverride) -> None:
    app_settings.set(SECURE_COOKIES="true")
    client = TestClient(create_api(), base_url="http://testserver")
    for path in RESPONSES.values():
        assert client.get(path).headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_sign_in_link_page_sends_no_referrer(client: TestClient) -> None:
    """/auth/verify is a Reflex page (not in this in-process app), but the policy is decided by path."""
    for path in ("/auth/verify", "/auth/verify/"):
        assert client.get(path, params={"token": "t"}).headers["Referrer-Policy"] == "no-referrer"


def test_the_invitation_page_sends_no_referrer(client: TestClient) -> None:
    """/invite?token=... holds an invitation's secret in its URL: no page it links to may learn it."""
    for path in ("/invite", "/invite/"):
        assert client.get(path, params={"token": "t"}).headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/team").headers["Referrer-Policy"] == "same-origin"


def test_a_revalidated_page_keeps_its_own_policy(client: TestClient) -> None:
    """A 304 carries no policy: the browser would put it on the cached page, whose scripts it would block."""
    from starlette.responses import Response

    api = create_api()
    api.add_api_route("/cached-page", lambda: Response(status_code=304), include_in_schema=False)
    response = TestClient(api).get("/cached-page")
    assert response.status_code == 304
    assert "Content-Security-Policy" not in response.headers and response.headers["X-Frame-Options"] == "DENY"
