"""Run in a process of its own by test_error_reports.py (Sentry patches FastAPI and RQ for the whole
process it starts in): start error reports from the settings, serve one request whose handler
raises an error full of personal data, flush, and print the status code it answered."""

from __future__ import annotations

import sentry_sdk
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from saas_app.api.app import create_api
from saas_app.services.core.error_reports import init_error_reports

# Built at run time, so Sentry's source context (the lines around each frame) cannot contain them.
EMAIL = "victim.person" + "@example.com"
API_KEY = "nsk_live_" + "0123456789abcdefABCDEF0123456789"
COOKIE = "secret-" + "cookie-value"
JWT = ".".join(["eyJhbGciOiJIUzI1NiJ9", "eyJzdWIiOiIxMjM0In0", "c2lnbmF0dXJlLWJ5dGVz"])


def explode() -> None:
    raise RuntimeError(f"could not render for {EMAIL} with key {API_KEY} and token {JWT}")


def main() -> None:
    assert init_error_reports()
    api = create_api()
    api.router.routes.insert(0, APIRoute("/api/test-explode", explode, methods=["GET"]))
    with TestClient(api, raise_server_exceptions=False) as client:
        answer = client.get("/api/test-explode", headers={"Authorization": f"Bearer {API_KEY}",
                                                           "Cookie": f"sa_session={COOKIE}"})
    sentry_sdk.flush(timeout=10)
    print(answer.status_code, answer.json()["error"])


if __name__ == "__main__":
    main()
