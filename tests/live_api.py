"""The API served over real sockets by granian in a process of its own (the tests' settings,
plus overrides), for tests where what happens between the answer and the next request
matters, or where many requests must run at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

START_TIMEOUT = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_api(log_path: Path, **settings: str) -> Iterator[str]:
    """Serve `create_api()` on a free port until the block ends; yields its base URL.

    `log_path` receives the server's output (tests read it for errors).
    """
    port = _free_port()
    env = {**os.environ, **settings}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1", "saas_app.api.app:create_api"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(proc, base)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def _wait_ready(proc: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT  # a bound on start-up, not an assertion about speed
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/api/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the API server did not start")
