"""One canonical form per address: the identity and where mail goes (issue 9, item 4)."""

from __future__ import annotations

import pytest

from saas_app.services.auth.magic_links import normalize_email
from saas_app.services.core.errors import InvalidInput


@pytest.mark.parametrize("spelling", ["qa@bücher.example", "QA@xn--bcher-kva.example", " qa@BÜCHER.example "])
def test_both_spellings_of_an_international_domain_are_one_ascii_address(spelling: str) -> None:
    assert normalize_email(spelling) == "qa@xn--bcher-kva.example"


def test_a_unicode_local_part_keeps_one_form_too() -> None:
    assert normalize_email("üser@bücher.example") == normalize_email("üser@xn--bcher-kva.example")


def test_the_local_part_is_at_most_64_octets() -> None:
    assert normalize_email("a" * 64 + "@example.com") == "a" * 64 + "@example.com"
    with pytest.raises(InvalidInput, match="64"):
        normalize_email("a" * 65 + "@example.com")
    with pytest.raises(InvalidInput, match="64"):
        normalize_email("é" * 33 + "@example.com")  # 33 characters, 66 octets
