"""Each rule is spelled in one place: statuses in their enums, paths in routes.py; service functions
that take a session take it by keyword. (Services reach jobs only through the queue module's
names: tests/unit/test_architecture.py refuses any import of jobs/ from services/.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fastapi.routing import iter_route_contexts

from saas_app import routes
from saas_app.api.app import create_api
from saas_app.services.renders.status import RenderStatus, StepStatus
from saas_app.settings import PROJECT_ROOT

APP = PROJECT_ROOT / "saas_app"
STATUSES = {s.value for s in (*RenderStatus, *StepStatus)}  # queued, running, succeeded, failed, canceled, ...
STATUS_HOMES = {APP / "services/renders/status.py", APP / "services/account/status.py",
                APP / "services/billing/status.py", APP / "services/core/outcomes.py",
                APP / "services/teams/status.py",
                APP / "routes.py"}  # routes.py: the `checkout=canceled` query value of Stripe's return URL
PATH = re.compile(r"^/[A-Za-z_\[]")  # "/create", "/api/...", "/styles.css" (not "/" or "//")
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "add_api_route", "api_route"}


def _app_files() -> list[Path]:
    return sorted(p for p in APP.rglob("*.py") if APP / "dev" not in p.parents)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _route_declarations(tree: ast.AST) -> set[int]:
    """String constants that declare an API route (a router decorator's path, a router's prefix)."""
    ids = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in ROUTE_DECORATORS and node.args:
            ids.add(id(node.args[0]))
        if name == "APIRouter":
            ids.update(id(k.value) for k in node.keywords if k.arg == "prefix")
    return ids


def _inner_fstring_parts(tree: ast.AST) -> set[int]:
    """The text of an f-string after its first part ("/month" in f"${price}/month" is not a path)."""
    return {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values[1:]}


def string_literals(source: str, *, skip_routes: bool = False) -> list[tuple[int, str]]:
    """(line, text) of every string constant that is not a docstring (nor, optionally, a route declaration).
    An f-string counts by its first part."""
    tree = ast.parse(source)
    skip = _docstrings(tree) | _inner_fstring_parts(tree) | (_route_declarations(tree) if skip_routes else set())
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip]


def test_the_literal_finder_skips_docstrings_and_route_declarations() -> None:
    source = ('"""/doc"""\nrouter = APIRouter(prefix="/api/x")\n@router.get("/api/y")\ndef f():\n'
              '    """/doc"""\n    return "/create", "queued", f"/api/r/{x}/video", f"${x}/month"\n')
    assert [text for _, text in string_literals(source, skip_routes=True)] == ["/create", "queued", "/api/r/", "$"]
    assert "/api/y" in [text for _, text in string_literals(source)]


def test_statuses_are_spelled_only_in_their_enums() -> None:
    offenders = [f"{p.relative_to(PROJECT_ROOT)}:{line} {text!r}"
                 for p in _app_files() if p not in STATUS_HOMES
                 for line, text in string_literals(p.read_text()) if text in STATUSES]
    assert offenders == [], f"use RenderStatus / StepStatus (or the export, subscription enums): {offenders}"


def test_paths_are_spelled_only_in_routes_and_route_declarations() -> None:
    offenders = [f"{p.relative_to(PROJECT_ROOT)}:{line} {text!r}"
                 for p in _app_files() if p != APP / "routes.py"
                 for line, text in string_literals(p.read_text(), skip_routes=True) if PATH.match(text)]
    assert offenders == [], f"build paths with saas_app/routes.py: {offenders}"


def test_every_api_path_routes_py_builds_is_a_route_of_the_api() -> None:
    declared = {route.path for route in iter_route_contexts(create_api().routes)}
    templates = {name: value for name, value in vars(routes).items()
                 if name.startswith("API_") and isinstance(value, str) and name != "API_PREFIX"}
    templates |= {"SESSION_SIGN_IN": routes.SESSION_SIGN_IN, "SESSION_SIGN_OUT": routes.SESSION_SIGN_OUT,
                  "SESSION_SIGN_OUT_ALL": routes.SESSION_SIGN_OUT_ALL}
    missing = {name: path for name, path in templates.items() if path not in declared}
    assert missing == {}, f"routes.py builds paths the API does not serve: {missing}"


def test_public_service_functions_take_the_session_by_keyword() -> None:
    offenders = []
    for path in sorted((APP / "services").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                positional = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
                if "session" in positional:
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.name}")
    assert offenders == [], f"make `session` keyword-only (`def f(*, session, ...)`): {offenders}"
