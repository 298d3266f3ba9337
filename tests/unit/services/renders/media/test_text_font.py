"""The font title cards and previews draw text with: accented and non-Latin letters must be real glyphs,
not the box a font draws for a character it lacks (Pillow's own default font lacks most of them)."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from saas_app.services.renders.media.images import text_font

MISSING = "\U0010fffd"  # a private-use character no font has: drawn as the font's "missing glyph" box


def _drawn(text: str) -> bytes:
    image = Image.new("L", (120, 80))
    ImageDraw.Draw(image).text((10, 10), text, font=text_font(40), fill=255)
    return image.tobytes()


@pytest.mark.parametrize("letter", ["é", "ç", "ã", "ü", "ß", "Ж", "λ", "ש"])
def test_letters_beyond_basic_latin_are_drawn_as_themselves(letter: str) -> None:
    assert _drawn(letter) != _drawn(MISSING), f"{letter!r} is drawn as the missing-glyph box"
    assert _drawn(letter) != _drawn("")  # and something is drawn at all
