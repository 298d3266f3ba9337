"""The web process serves a frontend build only when it was made for this APP_BASE_URL, and copies
of a build carry what serving needs."""

from __future__ import annotations

import json
from pathlib import Path

from saas_app.web import build_problem, copy_build

# What Reflex compiles into the frontend for APP_BASE_URL=http://testserver (the tests' setting).
BUILT_HERE = {"PING": "http://testserver/ping", "EVENT": "ws://testserver/_event",
              "UPLOAD": "http://testserver/_upload", "AUTH_CODESPACE": "http://testserver/auth-codespace",
              "HEALTH": "http://testserver/_health", "ALL_ROUTES": "http://testserver/_all_routes",
              "TRANSPORT": "websocket", "TEST_MODE": False}


def _build(web: Path, env: dict) -> Path:
    (web / "build" / "client").mkdir(parents=True)
    (web / "build" / "client" / "index.html").write_text("<html></html>")
    (web / "env.json").write_text(json.dumps(env))
    return web


def test_a_build_for_this_address_is_served(tmp_path: Path) -> None:
    assert build_problem(_build(tmp_path / ".web", BUILT_HERE)) is None


def test_a_missing_build_or_one_for_another_address_is_built_again(tmp_path: Path) -> None:
    assert build_problem(tmp_path / "nothing") == f"no frontend build in {tmp_path / 'nothing'}"
    elsewhere = {k: v.replace("testserver", "studio.example.com") if isinstance(v, str) else v
                 for k, v in BUILT_HERE.items()}
    problem = build_problem(_build(tmp_path / "other", elsewhere))
    assert problem is not None and "http://studio.example.com/ping, not http://testserver/ping" in problem


def test_a_copied_build_serves_like_the_original(tmp_path: Path) -> None:
    source = _build(tmp_path / "built" / ".web", BUILT_HERE)
    (source / "node_modules").mkdir()  # what building needed, not serving
    copy_build(source, tmp_path / "app" / ".web")
    assert build_problem(tmp_path / "app" / ".web") is None
    assert sorted(p.name for p in (tmp_path / "app" / ".web").iterdir()) == ["build", "env.json"]
