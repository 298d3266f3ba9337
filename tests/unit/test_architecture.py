"""House rules that are checked, not just written down (ARCHITECTURE.md conventions 1 and settings)."""

from __future__ import annotations

import ast
from pathlib import Path

from saas_app.settings import PROJECT_ROOT

APP = PROJECT_ROOT / "saas_app"
ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def reflex_imports(source: str) -> list[int]:
    """Line numbers that import reflex (or a submodule)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == "reflex" or name.startswith("reflex.") for name in names):
            lines.append(node.lineno)
    return lines


def environment_reads(source: str) -> list[int]:
    """Line numbers that touch the process environment through `os` (any alias)."""
    tree = ast.parse(source)
    os_names = {"os"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {alias.asname or alias.name for alias in node.names if alias.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(alias.name in ENV_NAMES for alias in node.names):
                lines.append(node.lineno)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in ENV_NAMES
                and isinstance(node.value, ast.Name) and node.value.id in os_names):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_checkers_find_what_they_look_for() -> None:
    assert reflex_imports("import reflex as rx\n") == [1]
    assert reflex_imports("x = 1\nfrom reflex.state import State\n") == [2]
    assert reflex_imports("import reflexive\nfrom .reflex import x\n") == []
    assert environment_reads("import os\nos.environ['A']\n") == [2]
    assert environment_reads("import os as o\nv = o.getenv('A')\n") == [2]
    assert environment_reads("from os import environ\n") == [1]
    assert environment_reads("import os\nos.path.join('a')\n") == []


def test_services_and_jobs_never_import_reflex() -> None:
    files = _python_files(APP / "services", APP / "jobs")
    assert len(files) >= 10, "expected the services and jobs packages"
    offenders = [f"{p.relative_to(PROJECT_ROOT)}:{line}"
                 for p in files for line in reflex_imports(p.read_text())]
    assert offenders == [], f"services/jobs must not import reflex: {offenders}"


def test_only_settings_reads_the_environment() -> None:
    allowed = {APP / "settings.py"}
    files = [p for p in _python_files(APP) if p not in allowed and APP / "dev" not in p.parents]
    files.append(PROJECT_ROOT / "rxconfig.py")
    offenders = [f"{p.relative_to(PROJECT_ROOT)}:{line}"
                 for p in files for line in environment_reads(p.read_text())]
    assert offenders == [], f"read configuration through get_settings(), not os.environ: {offenders}"
