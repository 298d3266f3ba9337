"""The docs stay true to the tree: every file they name exists, and they link nowhere outside the repo."""

from __future__ import annotations

import re

import pytest

from saas_app.settings import PROJECT_ROOT

DOCS = sorted([*(PROJECT_ROOT / "docs").glob("*.md"), PROJECT_ROOT / "README.md"])
NAMED_FILE = re.compile(r"`((?:saas_app|tests|bench|docs|migrations)/[\w/.<>-]+?\.(?:py|md))")
APP_FILE = re.compile(r"`((?:services|state|pages|api|jobs|components)/[\w/.-]+?\.py)")  # under saas_app/
LINK = re.compile(r"\]\(([^)#\s]+)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_file_a_doc_names_exists(doc) -> None:  # type: ignore[no-untyped-def]
    text = doc.read_text()
    named = [m for m in NAMED_FILE.findall(text) if "<" not in m] + [f"saas_app/{m}" for m in APP_FILE.findall(text)]
    assert named or doc.name == "operations.md", f"{doc.name}: the pattern found no file names"
    missing = [name for name in named if not (PROJECT_ROOT / name).exists()]
    assert missing == [], f"{doc.name} names files that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_stay_inside_the_repository(doc) -> None:  # type: ignore[no-untyped-def]
    assert "../shared" not in doc.read_text(), f"{doc.name} points outside the repository"
    for target in LINK.findall(doc.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        resolved = (doc.parent / target).resolve()
        assert resolved.is_relative_to(PROJECT_ROOT) and resolved.exists(), f"{doc.name} links to {target}"
