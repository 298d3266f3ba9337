"""The seed's load test: simulated creators against a running stack (`make load`).

Each creator signs in once from a pre-made token pool (`load/tokens.py`, `LOAD_TOKENS`), then,
0.5-1.5 s apart: creates a render (1x), polls its status (3x), lists templates (1x), checks usage
(1x). 402 (over quota) and 429 (too many unfinished renders) are the product's expected refusals:
they count as successes under their own name. `GET /api/health` runs in the same users under
the same load, as the baseline the API is compared with.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

_TOKENS = json.loads(Path(os.environ.get("LOAD_TOKENS", "var/load/tokens.json")).read_text())
_next = itertools.count()
_lock = threading.Lock()
REFUSALS = (402, 429)
SCENES = [{"text": "Magma rises through the crust."}, {"text": "Lava flows to the sea."}]


class Creator(HttpUser):
    """A creator using the API with an access token from the pool."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        with _lock:
            token = _TOKENS[next(_next) % len(_TOKENS)]
        self.client.headers["Authorization"] = f"Bearer {token}"
        self.render_id: str | None = None

    @task(1)
    def create_render(self) -> None:
        body: dict[str, Any] = {"topic": "Volcanoes", "scenes": SCENES}
        with self.client.post("/api/renders", json=body, name="POST /api/renders", catch_response=True) as answer:
            if answer.status_code == 202:
                self.render_id = answer.json()["id"]
                answer.success()
            elif answer.status_code in REFUSALS:
                answer.request_meta["name"] = f"POST /api/renders (refused {answer.status_code})"
                answer.success()
            else:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")

    @task(3)
    def poll_status(self) -> None:
        if self.render_id is None:
            self.check_usage()
            return
        self.client.get(f"/api/renders/{self.render_id}", name="GET /api/renders/{id}")

    @task(1)
    def list_templates(self) -> None:
        self.client.get("/api/v1/templates", name="GET /api/v1/templates")

    @task(1)
    def check_usage(self) -> None:
        self.client.get("/api/usage", name="GET /api/usage")

    @task(1)
    def health(self) -> None:
        self.client.get("/api/health", name="GET /api/health (baseline)")
