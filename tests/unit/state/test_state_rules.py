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
                  if isinstance(obj, type) and issubclass(obj, rx.State) and obj.__module__ == module.__name__]
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


def test_every_state_is_reset_when_the_tabs_principal_changes() -> None:
    """Every page state sits under SessionState, whose principal check resets the whole subtree."""
    from saas_app.state.session import SessionState

    outside = [cls.__name__ for cls in _states() if not issubclass(cls, SessionState)]
    assert outside == [], f"states a sign-out would not reset (subclass SessionState): {outside}"


def test_revealed_secrets_are_one_shot() -> None:
    """A public var holding a secret is listed in `_one_shot_vars`, so a reload never sends it again."""
    secretish = [(cls, name) for cls in _states() for name in cls.base_vars
                 if not name.startswith("_") and re.search(r"secret|token|api_key", name)
                 and cls.__module__ != "saas_app.state.login"]
    assert secretish, "expected at least the API key reveal"
    missing = [f"{cls.__name__}.{name}" for cls, name in secretish if name not in cls._one_shot_vars]
    assert missing == []
