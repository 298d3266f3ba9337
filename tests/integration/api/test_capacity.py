"""Issue 10 items 1 and 2 over real sockets: more concurrent authenticated requests than pooled
connections complete (no pool timeouts, no 500s); past `API_MAX_INFLIGHT` the API answers 503 with
`Retry-After` at once and recovers when the load eases; the health check answers while every API
thread is busy."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from factories import CTX, bearer
from live_api import live_api

from saas_app.db import get_engine, pool_size, session_scope
from saas_app.services.auth.sessions import open_api_session
from saas_app.settings import get_settings

pytestmark = pytest.mark.db


def _access_tokens(count: int) -> list[str]:
    with session_scope() as session:
        return [open_api_session(session=session, email=f"load{i}@example.com", ctx=CTX).access_token
                for i in range(count)]


@contextmanager
def writes_blocked() -> Iterator[None]:
    """Hold the database's write lock: API requests that write wait inside their thread."""
    with get_engine().connect() as conn:
        if get_settings().is_sqlite:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
            conn.exec_driver_sql("LOCK TABLE apikey IN SHARE ROW EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def _create_key(base: str, token: str, name: str) -> httpx.Response:
    return httpx.post(f"{base}/api/account/api-keys", json={"name": name}, headers=bearer(token), timeout=120)


def _admitted_and_shed(pool: ThreadPoolExecutor, base: str, token: str, sent: int,
                       admitted: int) -> tuple[list[Future[httpx.Response]], list[httpx.Response]]:
    """Send `sent` writes while writes are blocked; once all but `admitted` have been answered
    (shed), return the ones in flight and the answers."""
    futures = [pool.submit(_create_key, base, token, f"held{i}") for i in range(sent)]
    done: set[Future[httpx.Response]] = set()
    while len(done) < sent - admitted:
        finished, _ = wait(set(futures) - done, return_when=FIRST_COMPLETED)
        done |= finished
    return [f for f in futures if f not in done], [f.result() for f in done]


def test_more_concurrent_authenticated_requests_than_pooled_connections_all_complete(tmp_path: Path) -> None:
    threads = 2
    users = 120
    tokens = _access_tokens(users)  # distinct and never used: each one is verified against the database
    log = tmp_path / "server.log"
    with live_api(log, WEB_THREADS=str(threads), API_MAX_INFLIGHT="1000") as base:
        assert users > 3 * (2 * threads + 1)  # many more requests at once than the pool has connections

        def one_user(token: str) -> list[int]:
            with httpx.Client(base_url=base, headers=bearer(token), timeout=120) as http:
                return [http.get("/api/usage").status_code, http.get("/api/renders").status_code,
                        http.post("/api/account/api-keys", json={"name": "k"}).status_code,
                        http.get("/api/auth/me").status_code]

        with ThreadPoolExecutor(users) as pool:
            results = list(pool.map(one_user, tokens))
    assert results == [[200, 200, 201, 200]] * users
    text = log.read_text(errors="replace")
    assert "QueuePool limit" not in text and "TimeoutError" not in text and "Traceback" not in text


def test_past_the_limit_the_api_answers_503_with_retry_after_and_recovers(tmp_path: Path) -> None:
    token = _access_tokens(1)[0]
    with live_api(tmp_path / "server.log", API_MAX_INFLIGHT="2") as base:
        assert httpx.get(f"{base}/api/usage", headers=bearer(token)).status_code == 200  # cached principal
        with ThreadPoolExecutor(6) as pool, writes_blocked():  # the lock is let go first
            held, shed = _admitted_and_shed(pool, base, token, sent=6, admitted=2)
            assert [a.status_code for a in shed] == [503] * 4
            assert {a.headers["Retry-After"] for a in shed} == {"1"}
            assert {(a.json()["error"], a.json()["retry_after"]) for a in shed} == {("overloaded", 1)}
            probe = httpx.get(f"{base}/api/usage", headers=bearer(token), timeout=60)
            assert probe.status_code == 503  # the two admitted writes are still waiting for the lock
            assert httpx.get(f"{base}/api/health", timeout=60).status_code == 200  # never shed
            assert not any(f.done() for f in held)
        assert [f.result().status_code for f in held] == [201, 201]
        assert httpx.get(f"{base}/api/usage", headers=bearer(token)).status_code == 200  # recovered


def test_the_health_check_answers_while_every_api_thread_waits(tmp_path: Path) -> None:
    token = _access_tokens(1)[0]
    with live_api(tmp_path / "server.log", WEB_THREADS="1", API_MAX_INFLIGHT="3") as base:
        assert httpx.get(f"{base}/api/usage", headers=bearer(token)).status_code == 200
        with ThreadPoolExecutor(5) as pool, writes_blocked():  # the lock is let go first
            # three in flight: one in the API's only thread, stuck behind the lock, two waiting for it
            held, shed = _admitted_and_shed(pool, base, token, sent=5, admitted=3)
            assert [a.status_code for a in shed] == [503, 503]
            health = httpx.get(f"{base}/api/health", timeout=60)
            assert health.status_code == 200 and health.json()["db"] == "ok"
            assert not any(f.done() for f in held)
        assert [f.result().status_code for f in held] == [201, 201, 201]


def test_the_pool_has_a_connection_for_every_thread_that_can_hold_one() -> None:
    engine = get_engine()
    assert isinstance(engine.pool, sa.pool.QueuePool)
    assert engine.pool.size() == pool_size() == 2 * get_settings().WEB_THREADS + 1
