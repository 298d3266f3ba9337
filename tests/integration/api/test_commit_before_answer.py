"""Issue 9 item 3: every change is committed, and its cached principals dropped, before its 2xx
is sent; a change that cannot be made consistently answers an error and changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from factories import CTX, bearer
from fastapi.testclient import TestClient
from live_api import live_api
from shared_helpers import SettingsOverride
from sqlmodel import Session, select

from saas_app.api.app import create_api
from saas_app.api.deps import authenticate
from saas_app.db import get_engine, session_scope
from saas_app.models import ApiKey, AuthSession
from saas_app.services.auth.sessions import open_api_session
from saas_app.services.core.errors import AuthError

pytestmark = pytest.mark.db
ROUNDS = 50


def _tokens(email: str) -> dict[str, str]:
    with session_scope() as session:
        pair = open_api_session(session=session, email=email, ctx=CTX)
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token}


def _still_valid(kind: str, credential: str) -> bool:
    try:
        authenticate(kind, credential)
    except AuthError:
        return False
    return True


async def _call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes,
                at_answer: Any) -> tuple[int, dict]:
    """Drive the ASGI app directly; `at_answer()` runs when the status line is sent, before the body."""
    scope = {"type": "http", "http_version": "1.1", "method": method, "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "scheme": "http", "server": ("testserver", 80),
             "client": ("127.0.0.1", 1234), "state": {},
             "headers": [(k.lower().encode(), v.encode()) for k, v in
                         {**headers, "content-type": "application/json", "host": "testserver"}.items()]}
    sent = [False]
    parts: list[bytes] = []
    status = [0]

    async def receive() -> dict:
        if sent[0]:
            return {"type": "http.disconnect"}
        sent[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
            at_answer()
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, send)
    return status[0], json.loads(b"".join(parts) or b"{}")


@pytest.fixture
def asgi_app() -> Any:
    return create_api()


def _in_own_loop(body: Coroutine[Any, Any, None]) -> None:
    """Run an async test body on a loop of its own thread: in a full run the browser tests' Playwright loop
    still runs on this thread, and no second loop may run here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, body).result()


def test_a_new_key_is_committed_and_works_when_its_201_is_sent(asgi_app: Any) -> None:
    _in_own_loop(_a_new_key_is_committed_at_its_201(asgi_app))


def test_a_revoked_key_and_a_signed_out_token_are_refused_when_the_200_is_sent(asgi_app: Any) -> None:
    _in_own_loop(_revoked_credentials_are_refused_at_the_200(asgi_app))


async def _a_new_key_is_committed_at_its_201(asgi_app: Any) -> None:
    tokens = _tokens("commit@example.com")
    seen: dict[str, int] = {}

    def at_answer() -> None:
        with Session(get_engine()) as other:  # another connection
            seen["keys"] = len(other.exec(select(ApiKey)).all())

    status, body = await _call(asgi_app, "POST", "/api/account/api-keys", bearer(tokens["access_token"]),
                               b'{"name": "at once"}', at_answer)
    assert status == 201, body
    assert seen["keys"] == 1
    assert _still_valid("api_key", body["key"])


async def _revoked_credentials_are_refused_at_the_200(asgi_app: Any) -> None:
    tokens = _tokens("revoke@example.com")
    headers = bearer(tokens["access_token"])
    status, key = await _call(asgi_app, "POST", "/api/account/api-keys", headers, b'{"name": "k"}', lambda: None)
    assert status == 201 and _still_valid("api_key", key["key"])  # now cached as well
    seen: dict[str, bool] = {}

    status, _ = await _call(asgi_app, "DELETE", f"/api/account/api-keys/{key['id']}", headers, b"",
                            lambda: seen.setdefault("key", _still_valid("api_key", key["key"])))
    assert status == 200 and seen["key"] is False

    status, _ = await _call(asgi_app, "POST", "/api/auth/logout", headers, b"",
                            lambda: seen.setdefault("token", _still_valid("token", tokens["access_token"])))
    assert status == 200 and seen["token"] is False


def test_sign_out_everywhere_during_a_redis_outage_fails_and_changes_nothing(
    api: TestClient, app_settings: SettingsOverride, redis_client: redis.Redis,
) -> None:
    tokens = _tokens("outage@example.com")
    headers = bearer(tokens["access_token"])
    assert api.get("/api/auth/me", headers=headers).status_code == 200  # cached
    app_settings.set(REDIS_URL="redis://127.0.0.1:1/15")
    answer = api.post("/api/auth/logout-all", headers=headers)
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"]
    app_settings.restore()
    with session_scope() as session:
        assert [s.revoked_at for s in session.exec(select(AuthSession)).all()] == [None]
    assert api.get("/api/auth/me", headers=headers).status_code == 200  # consistent: nothing changed
    assert api.post("/api/auth/logout-all", headers=headers).status_code == 200
    assert api.get("/api/auth/me", headers=headers).status_code == 401


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with live_api(tmp_path / "server.log") as base:
        yield base


def test_create_then_use_and_revoke_then_use_fifty_times_over_real_sockets(server: str) -> None:
    tokens = _tokens("race@example.com")
    with httpx.Client(base_url=server, timeout=60) as http:
        headers = bearer(tokens["access_token"])
        outcomes = []
        for i in range(ROUNDS):
            created = http.post("/api/account/api-keys", json={"name": f"k{i}"}, headers=headers)
            assert created.status_code == 201, created.text
            key = created.json()
            used = http.get("/api/usage", headers=bearer(key["key"])).status_code
            revoked = http.delete(f"/api/account/api-keys/{key['id']}", headers=headers).status_code
            after = http.get("/api/usage", headers=bearer(key["key"])).status_code
            outcomes.append((used, revoked, after))
        assert outcomes == [(200, 200, 401)] * ROUNDS

        sessions = []
        for _ in range(ROUNDS):
            fresh = http.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert fresh.status_code == 200, fresh.text
            tokens = fresh.json()
            used = http.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code
            sessions.append(used)
        assert sessions == [200] * ROUNDS

        ended = []
        for i in range(ROUNDS):
            mine = _tokens(f"session{i}@example.com")
            mine_headers = bearer(mine["access_token"])
            before = http.get("/api/auth/me", headers=mine_headers).status_code
            out = http.post("/api/auth/logout", headers=mine_headers).status_code
            after = http.get("/api/auth/me", headers=mine_headers).status_code
            refresh = http.post("/api/auth/refresh", json={"refresh_token": mine["refresh_token"]}).status_code
            ended.append((before, out, after, refresh))
        assert ended == [(200, 200, 401, 401)] * ROUNDS
