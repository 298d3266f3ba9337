"""Links on the pages: a link to a file the API serves must be a real browser download (Reflex
routes every other link inside the single-page app, which has no page there), and the create
form's inputs reach the estimate quickly (Reflex's default input debounce is 300 ms)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import reflex as rx
from component_tree import nodes

from saas_app.pages.account import account_page
from saas_app.pages.create import INPUT_DEBOUNCE_MS, create_page
from saas_app.pages.library import library_page
from saas_app.pages.render import render_page

MINE: list[Callable[[], rx.Component]] = [create_page, render_page, library_page, account_page]




def _router_links(page: Callable[[], rx.Component]) -> list[list[str]]:
    return [node.get("props", []) for node in nodes(page().render()) if node.get("name") == "ReactRouterLink"]


@pytest.mark.parametrize("page", MINE, ids=lambda p: p.__name__)
def test_every_link_to_an_api_file_is_a_browser_download(page: Callable[[], rx.Component]) -> None:
    links = _router_links(page)
    assert links, "no links found: the walk over the component tree is broken"
    for props in links:
        target = next((p for p in props if p.startswith("to:")), "")
        file_url = "/api/" in target and "/api/docs" not in target  # the API reference is a page, not a file
        api = file_url or "video_url" in target or "thumbnail" in target or "download" in target.lower()
        if api or any(p.startswith("download:") for p in props):
            assert "reloadDocument:true" in props and any(p.startswith("download:") for p in props), props


def test_the_render_page_has_its_download_links() -> None:
    downloads = [props for props in _router_links(render_page) if "reloadDocument:true" in props]
    targets = sorted(next(p for p in props if p.startswith("to:")).rsplit(".", 1)[-1] for props in downloads)
    assert targets == ["captions_srt_url_rx_state_", "captions_vtt_url_rx_state_", "video_url_rx_state_"], downloads


def test_create_inputs_send_typing_within_100_ms() -> None:
    rendered = str(create_page().render())
    assert INPUT_DEBOUNCE_MS <= 50
    assert rendered.count(f"debounceTimeout:{INPUT_DEBOUNCE_MS}") == 3  # topic, scene text, narration
    assert "debounceTimeout:300" not in rendered
