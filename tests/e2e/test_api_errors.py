"""The running app (Reflex with the API mounted by `api_transformer`, one port) answers requests
no API route takes in the API's JSON error shape, while every other path still reaches the web app."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from e2e_helpers import LiveApp

pytestmark = pytest.mark.e2e


@pytest.fixture
def http(live_app: LiveApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_app.base_url, timeout=30, follow_redirects=True) as client:
        yield client


def _json_error(response: httpx.Response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == error and body["message"], body
    assert set(body) == {"error", "message"}
    return body


@pytest.mark.parametrize("path", ["/api/nope", "/api/renders/x/y/z", "/api/v2/renders"])
def test_an_unknown_api_path_is_a_json_404(http: httpx.Client, path: str) -> None:
    _json_error(http.get(path), 404, "not_found")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/api/auth/refresh", "POST"),  # a POST-only route (was the web app's HTML 404 page)
    ("OPTIONS", "/api/renders", "GET, POST"),  # was 405 with the static files' "Allow: GET, HEAD"
    ("DELETE", "/api/usage", "GET"),
])
def test_a_wrong_method_is_a_json_405_naming_the_right_ones(http: httpx.Client, method: str, path: str,
                                                            allow: str) -> None:
    response = http.request(method, path)
    _json_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allow


def test_a_body_that_does_not_parse_is_a_json_400(http: httpx.Client) -> None:
    response = http.post("/api/auth/magic-link/request", content=b"\xc3\x28",
                         headers={"Content-Type": "application/json"})
    _json_error(response, 400, "bad_request")


def test_the_api_still_answers_and_the_pages_still_load(http: httpx.Client) -> None:
    assert http.get("/api/health").json()["status"] == "ok"
    assert http.get("/api/openapi.json").json()["info"]["title"] == "Narrated Studio API"
    page = http.get("/login")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
