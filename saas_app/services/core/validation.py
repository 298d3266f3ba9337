"""Plain-words messages for input validation errors (shared by the API and the pages)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator

# pydantic error types as words; `{...}` names a key of the error's ctx (its bound, its choices).
_MESSAGES: dict[str, str] = {
    "json_invalid": "is not valid JSON",
    "missing": "is required",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "can have at most {max_length} items",
    "literal_error": "must be one of {expected}",
    "extra_forbidden": "is not an accepted field",
    "less_than_equal": "must be at most {le}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "greater_than": "must be greater than {gt}",
    "string_unicode": "is not valid Unicode text",
    "string_pattern_mismatch": "may hold only letters, digits, '_', '-' and '.'",
}


def friendly_message(error: dict[str, Any]) -> str:
    """One pydantic error as a short sentence a user understands."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "string_too_short":
        return "is required" if ctx.get("min_length") == 1 else f"must be at least {ctx.get('min_length')} characters"
    if kind in _MESSAGES:
        return _MESSAGES[kind].format_map(_Missing(ctx))
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def field_path(loc: tuple[int | str, ...], kind: str = "") -> str:
    """`scenes.0.text` from a pydantic location (request parts such as `body` dropped)."""
    if kind == "json_invalid":  # the location is a character position, not a field
        return "body"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


# Bounds for numbers a client sends in a query (SQL engines overflow at 2**63; nobody pages that far).
MAX_PAGE_SIZE = 100
MAX_OFFSET = 1_000_000
MAX_ID_LENGTH = 64
ID_PATTERN = r"^[A-Za-z0-9_.-]+$"

# Control characters a text may still contain: line breaks and tabs (typed in multi-line fields).
_ALLOWED_CONTROLS = frozenset("\t\n\r")
# Letters that draw nothing (Hangul fillers, the braille blank) count as blank like spaces do.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Unicode categories that are never visible: separators, controls, format characters (zero-width).
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


def clean_text(value: str) -> str:
    """The one check for text a user submits (topics, scene text, narration, names).

    Returns the text in Unicode NFC form with surrounding whitespace removed.

    Raises:
        ValueError: The text holds a control character (NUL included) other than a line break or
            tab, or a lone surrogate, or nothing visible (only spaces, zero-width or format characters).
    """
    text = unicodedata.normalize("NFC", value).strip()
    for char in text:
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _ALLOWED_CONTROLS) or category == "Cs":
            raise ValueError(f"contains a control character ({_codepoint(char)}); remove it and try again")
    if text and all(_is_blank(char) for char in text):
        raise ValueError("has no visible characters; type some words")
    return text


def _is_blank(char: str) -> bool:
    return char.isspace() or char in _BLANK_LETTERS or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def clean_optional_text(value: str | None) -> str | None:
    """`clean_text` for an optional field: None stays None, and an empty text is None too."""
    if value is None:
        return None
    return clean_text(value) or None


UserText = Annotated[str, AfterValidator(clean_text)]
OptionalUserText = Annotated[str | None, AfterValidator(clean_optional_text)]
