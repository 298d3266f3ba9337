"""Walk a rendered Reflex component tree (`component.render()`), for tests that inspect pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def nodes(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of the tree, the branches of conditions included."""
    yield tree
    for child in tree.get("children", []) or []:
        if isinstance(child, dict):
            yield from nodes(child)
    for key in ("true_value", "false_value"):
        if isinstance(tree.get(key), dict):
            yield from nodes(tree[key])
