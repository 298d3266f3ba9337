"""Small page fixes found in a QA pass: the custom not-found page, the render page's long topics, and the
billing questions shown when online payment is not set up."""

from __future__ import annotations

from typing import Any

from component_tree import nodes

from saas_app.pages.billing import billing_page
from saas_app.pages.not_found import not_found_page
from saas_app.pages.render import render_page


def test_the_not_found_page_says_so_and_links_home() -> None:
    rendered = str(not_found_page().render())
    assert "Page not found" in rendered
    assert "Go to Narrated Studio" in rendered


def test_the_render_page_topic_wraps_anywhere() -> None:
    rendered = str(render_page().render())
    assert rendered.count("wrap-anywhere") >= 2  # the finished page's topic line and the in-progress heading




def _only_when_configured(tree: dict[str, Any], question: str) -> bool:
    """Whether `question` sits in a small rx.cond on the billing state's `configured` flag."""
    return any("true_value" in node and question in str(node["true_value"]) and len(str(node["true_value"])) < 800
               and str(node.get("cond_state", "")).endswith(".configured_rx_state_") for node in nodes(tree))


def test_payment_questions_are_shown_only_when_payment_is_set_up() -> None:
    tree = billing_page().render()
    for question in ("When am I billed?", "Can I cancel?", "What if a payment fails?"):
        assert _only_when_configured(tree, question), question
    assert not _only_when_configured(tree, "What happens over quota?")
    assert "What happens over quota?" in str(tree)
