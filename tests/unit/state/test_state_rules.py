"""House rules of the state layer, checked (ARCHITECTURE.md conventions 2 and 5)."""

from __future__ import annotations

import importlib
import re

import reflex as rx

from saas_app.settings import PROJECT_ROOT

APP = PROJECT_ROOT / "saas_app"
STATE_DIR = APP / "state"


def _states() -> list[type[rx.State]]:
    found = []
    for path in sorted(STATE_DIR.glob("*.py")):
        module = importlib.import_module(f"saas_app.state.{path.stem}")
        found += [obj for obj in vars(module).values()
                  if isinstance(obj, type) and issubclass(obj, rx.State) and obj.__module__ == module.__name__
                  and not getattr(obj, "_mixin", False)]  # a mixin's handlers are checked on the states taking it
    return found


def test_every_public_handler_is_used_by_a_page_or_a_state() -> None:
    """Every public method of a state is callable from the browser: one nothing uses is a door left open."""
    sources = "\n".join(p.read_text() for folder in ("pages", "components", "state")
                        for p in sorted((APP / folder).glob("*.py")))
    sources += (APP / "saas_app.py").read_text()
    states = _states()
    assert len(states) >= 10
    unused = [f"{cls.__name__}.{name}" for cls in states for name in cls.event_handlers
              if name != "setvar" and not re.search(rf"\.{name}\b", sources)]
    assert unused == [], f"public handlers nothing calls (remove them, or prefix helpers with _): {unused}"


def test_only_the_session_state_opens_database_sessions() -> None:
    """Handlers call services through `SessionState._call`, not module-level session wrappers."""
    offenders = [p.name for p in sorted(STATE_DIR.glob("*.py"))
                 if p.name != "session.py" and "session_scope" in p.read_text()]
    assert offenders == []
