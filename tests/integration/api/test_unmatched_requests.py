"""Requests no API route takes answer in the API's error shape, never with the web app behind it.

Reflex mounts its own app at "" inside the API (`api_transformer`: `api.mount("", app)`),
so here a stand-in web app is mounted the same way; tests/e2e/test_api_errors.py asks the
real, running app the same questions.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from factories import finished_render, sign_in_headers
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from saas_app.api.app import create_api
from saas_app.dev.mailcatcher import MailCatcher

WEB_APP_PAGE = "<html><body>the web app's 404 page</body></html>"


def _web_app_page(_request: Request) -> HTMLResponse:
    return HTMLResponse(WEB_APP_PAGE, status_code=404)


@pytest.fixture
def mounted() -> Iterator[TestClient]:
    """The API with a web app mounted behind it, as Reflex does."""
    api = create_api()
    api.mount("", Starlette(routes=[Route("/{path:path}", _web_app_page, methods=["GET", "HEAD"])]))
    with TestClient(api) as client:
        yield client


@pytest.mark.parametrize("path", ["/api/nope", "/api/renders/x/y/z", "/api/v2/renders", "/api/renders/"])
def test_an_unknown_api_path_is_a_json_404(mounted: TestClient, path: str) -> None:
    response = mounted.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "not_found", "message": f"There is no API endpoint at {path}. See /api/docs."}


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/api/auth/refresh", "POST"),
    ("OPTIONS", "/api/renders", "GET, POST"),
    ("DELETE", "/api/renders", "GET, POST"),
    ("PUT", "/api/renders/abc", "GET, DELETE"),
    ("GET", "/api/billing/webhook", "POST"),
    ("POST", "/api/docs", "GET, HEAD"),
])
def test_a_wrong_method_is_a_json_405_naming_the_right_ones(mounted: TestClient, method: str, path: str,
                                                            allow: str) -> None:
    response = mounted.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    body = response.json()
    assert body["error"] == "method_not_allowed" and set(body) == {"error", "message"}
    assert method in body["message"] and allow in body["message"]


def test_paths_outside_the_api_still_reach_the_web_app(mounted: TestClient) -> None:
    response = mounted.get("/library")
    assert response.status_code == 404 and response.text == WEB_APP_PAGE


def test_a_body_that_does_not_parse_is_a_400_in_the_error_shape(mounted: TestClient) -> None:
    response = mounted.post("/api/auth/magic-link/request", content=b"\xc3\x28",
                            headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request" and set(response.json()) == {"error", "message"}
    form = mounted.post("/api/auth/session", content=b"--x", headers={"Content-Type": "multipart/form-data"})
    assert form.status_code == 400 and form.json()["error"] == "bad_request"


@pytest.mark.db
def test_a_refused_range_is_an_error_body_and_a_good_one_a_part(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = sign_in_headers(api, mailbox, "ranges@example.com")
    render = finished_render(api, headers)
    url = f"/api/renders/{render.id}/video"
    size = int(api.get(url, headers=headers).headers["content-length"])

    part = api.get(url, headers={**headers, "Range": "bytes=0-9"})
    assert part.status_code == 206 and len(part.content) == 10
    outside = api.get(url, headers={**headers, "Range": f"bytes={size}-"})
    assert outside.status_code == 416 and outside.headers["content-range"] == f"bytes */{size}"
    assert outside.json() == {"error": "range_not_satisfiable", "message": f"The file has {size} bytes."}
    unreadable = api.get(url, headers={**headers, "Range": "pages=1-2"})
    assert unreadable.status_code == 400 and unreadable.json()["error"] == "bad_request"
