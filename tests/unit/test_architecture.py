"""House rules that are checked, not just written down: which way the layers depend
(docs/architecture.md, "Layers"), and that only settings reads the environment."""

from __future__ import annotations

import ast
from pathlib import Path

from saas_app.settings import PROJECT_ROOT

APP = PROJECT_ROOT / "saas_app"
ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}

# What each part of saas_app may import from the others ("reflex" counts as a part). Imports
# inside a part are free; everything not listed is refused, at module level or in a function.
# pages -> state -> services; api -> services; jobs -> services; services import none of them.
ALLOWED: dict[str, set[str]] = {
    "pages": {"components", "state", "routes", "reflex"},
    "components": {"state", "routes", "reflex"},  # parts of pages: they bind state vars too
    "state": {"services", "routes", "settings", "db", "reflex"},
    "api": {"services", "routes", "settings", "db"},
    "jobs": {"services", "settings", "db", "models", "dev"},  # dev: the worker's parent-death guard
    "services": {"settings", "db", "models", "routes"},
    "dev": {"settings"},  # make run's process tooling
    "web": {"settings", "reflex"},  # serves a prebuilt frontend (python -m saas_app.web)
    # The modules every part shares. models stores the services' status enums; settings
    # validates TENANT_DEFAULT_PLAN and the price settings against the plan table.
    "settings": {"services"},
    "db": {"settings"},
    "models": {"services", "routes"},
    "routes": {"settings"},
    "saas_app": {"pages", "components", "state", "api", "routes", "settings", "reflex"},  # the app assembly
    "__init__": set(),
}


def _python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str = "", *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, function-level ones included.

    `from package import name` yields `package.name` (the name may be a module); relative
    imports are resolved against `module`, the dotted name of the file being read.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[:len(package) - node.level + 1], *filter(None, [node.module])])
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
    return sorted(found)


def part_of(module: str) -> str | None:
    """The part of the application a module belongs to (None: a library other than reflex)."""
    names = module.split(".")
    if names[0] == "reflex":
        return "reflex"
    if names[0] != "saas_app":
        return None
    return names[1] if len(names) > 1 else "__init__"


def layer_violations(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) of each import in `source` that the part `module` belongs to may not make."""
    own = part_of(module)
    assert own in ALLOWED, f"{module}: add its part {own!r} to ALLOWED in this test and to docs/architecture.md"
    return [(line, name) for line, name in imported_modules(source, module, is_package=is_package)
            if part_of(name) not in (None, own, *ALLOWED[own])]


def environment_reads(source: str) -> list[int]:
    """Line numbers that touch the process environment through `os` (any alias)."""
    tree = ast.parse(source)
    os_names = {"os"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {alias.asname or alias.name for alias in node.names if alias.name == "os"}
        elif (isinstance(node, ast.ImportFrom) and node.module == "os"
              and any(alias.name in ENV_NAMES for alias in node.names)):
            lines.append(node.lineno)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in ENV_NAMES
                and isinstance(node.value, ast.Name) and node.value.id in os_names):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_checkers_find_what_they_look_for() -> None:
    assert imported_modules("import reflex as rx\n") == [(1, "reflex")]
    assert imported_modules("x = 1\nfrom reflex.state import State\n") == [(2, "reflex.state.State")]
    assert [part_of(m) for _, m in imported_modules("import reflexive\nfrom email import utils\n")] == [None, None]
    in_function = "def f():\n    from saas_app.jobs import render\n    import saas_app.state.session\n"
    assert imported_modules(in_function) == [(2, "saas_app.jobs.render"), (3, "saas_app.state.session")]
    relative = "from . import quotas\nfrom ..core.errors import NotFound\nfrom ...jobs import render\n"
    assert imported_modules(relative, "saas_app.services.usage.metering") == [
        (1, "saas_app.services.usage.quotas"), (2, "saas_app.services.core.errors.NotFound"),
        (3, "saas_app.jobs.render")]
    assert imported_modules("from .status import RenderStatus\n", "saas_app.services.renders", is_package=True) == [
        (1, "saas_app.services.renders.status.RenderStatus")]
    assert [part_of(m) for _, m in imported_modules("from saas_app import routes, state\nimport saas_app\n")] == [
        "routes", "state", "__init__"]
    assert environment_reads("import os\nos.environ['A']\n") == [2]
    assert environment_reads("import os as o\nv = o.getenv('A')\n") == [2]
    assert environment_reads("from os import environ\n") == [1]
    assert environment_reads("import os\nos.path.join('a')\n") == []


def test_an_import_against_the_direction_is_found_wherever_it_is() -> None:
    service = "import logging\nfrom saas_app.models import Render\n\n\ndef f():\n" \
              "    from saas_app.jobs import render\n    import reflex\n"
    assert layer_violations(service, "saas_app.services.renders.pipeline") == [
        (6, "saas_app.jobs.render"), (7, "reflex")]
    assert layer_violations("from ..pages import create\n", "saas_app.state.create") == [(1, "saas_app.pages.create")]
    assert layer_violations("from saas_app.state.usage import UsageState\n", "saas_app.components.usage_banner") == []
    assert layer_violations("from saas_app.services import core\n", "saas_app.pages.login") == [
        (1, "saas_app.services.core")]


def test_the_layers_import_only_downward() -> None:
    files = _python_files(APP)
    assert len(files) >= 60, "expected the saas_app package"
    parts = {part_of(_module_name(p)) for p in files}
    assert {"pages", "components", "state", "api", "jobs", "services"} <= parts
    offenders = [f"{p.relative_to(PROJECT_ROOT)}:{line} imports {name}" for p in files
                 for line, name in layer_violations(p.read_text(), _module_name(p), is_package=p.name == "__init__.py")]
    assert offenders == [], f"an import against the layers' direction (docs/architecture.md): {offenders}"


def test_only_settings_reads_the_environment() -> None:
    allowed = {APP / "settings.py"}
    files = [p for p in _python_files(APP) if p not in allowed and APP / "dev" not in p.parents]
    files.append(PROJECT_ROOT / "rxconfig.py")
    offenders = [f"{p.relative_to(PROJECT_ROOT)}:{line}"
                 for p in files for line in environment_reads(p.read_text())]
    assert offenders == [], f"read configuration through get_settings(), not os.environ: {offenders}"
