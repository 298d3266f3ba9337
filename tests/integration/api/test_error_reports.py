"""Sentry, pointed at a local HTTP endpoint (a tiny threaded server in the test): an unhandled error
in a request is reported once, tagged with release and environment, with no personal data."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from error_report_probe import API_KEY, COOKIE, EMAIL, JWT

from saas_app.dev import processes
from saas_app.services.core.error_reports import REDACTED, scrub
from saas_app.settings import PROJECT_ROOT

HERE = Path(__file__).resolve().parent


class Inbox(ThreadingHTTPServer):
    """What the fake Sentry received: one body per POST (decompressed)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[bytes] = []
        self.arrived = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: Inbox

    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":  # sentry-sdk uses brotli when the module is installed (Reflex brings it)
            import brotli

            body = brotli.decompress(body)
        self.server.bodies.append(body)
        self.server.arrived.set()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def fake_sentry() -> Iterator[Inbox]:
    inbox = Inbox()
    thread = threading.Thread(target=inbox.serve_forever, daemon=True)
    thread.start()
    yield inbox
    inbox.shutdown()


def _events(inbox: Inbox) -> list[dict]:
    events = []
    for body in inbox.bodies:
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    return events


def test_an_unhandled_error_is_reported_with_release_and_environment_and_no_personal_data(
    fake_sentry: Inbox,
) -> None:
    env = processes.project_env({"SENTRY_DSN": f"http://publickey@127.0.0.1:{fake_sentry.server_port}/42",
                                 "SENTRY_RELEASE": "narrated-studio@test-1", "SENTRY_ENVIRONMENT": "chaos-test",
                                 "PYTHONPATH": os.pathsep.join([str(HERE), str(PROJECT_ROOT)])})
    probe = subprocess.run([processes.PYTHON, "-m", "error_report_probe"], cwd=PROJECT_ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert probe.stdout.split() == ["500", "internal_error"]  # the user still gets the plain 500
    assert fake_sentry.arrived.wait(10), "no event reached the local Sentry endpoint"

    [event] = _events(fake_sentry)
    assert event["release"] == "narrated-studio@test-1" and event["environment"] == "chaos-test"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == f"could not render for {REDACTED} with key {REDACTED} and token {REDACTED}"
    raw = json.dumps(event)
    for secret in (EMAIL, API_KEY, COOKIE, JWT):
        assert secret not in raw, (secret, raw[max(0, raw.find(secret) - 300):raw.find(secret) + 50])
    assert "user" not in event
    assert event["request"]["headers"].get("authorization", REDACTED) == REDACTED


def test_scrub_redacts_by_key_and_by_pattern_and_keeps_sentrys_own_ids() -> None:
    event = {"event_id": "a" * 32, "user": {"email": EMAIL},
             "extra": {"password": "hunter2", "note": f"mail {EMAIL}", "count": 3,
                       "stripe": "sk_test_abcdefghijklmnop", "webhook_secret": "whsec_abc"},
             "request": {"cookies": {"a": "b"}, "data": {"email": EMAIL}, "url": "http://x/api/renders"}}
    cleaned = scrub(event)  # type: ignore[arg-type]
    assert cleaned["event_id"] == "a" * 32 and "user" not in cleaned
    assert cleaned["extra"] == {"password": REDACTED, "note": f"mail {REDACTED}", "count": 3,
                                "stripe": REDACTED, "webhook_secret": REDACTED}
    assert cleaned["request"] == {"url": "http://x/api/renders"}
