"""Plain-words messages for input validation errors (shared by the API and the pages)."""

from __future__ import annotations

from typing import Any


def friendly_message(error: dict[str, Any]) -> str:
    """One pydantic error as a short sentence a user understands."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "json_invalid":
        return "is not valid JSON"
    if kind == "missing":
        return "is required"
    if kind == "string_too_short":
        return "is required" if ctx.get("min_length") == 1 else f"must be at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"can have at most {ctx.get('max_length')} items"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "extra_forbidden":
        return "is not an accepted field"
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")


def field_path(loc: tuple[int | str, ...], kind: str = "") -> str:
    """`scenes.0.text` from a pydantic location (request parts such as `body` dropped)."""
    if kind == "json_invalid":  # the location is a character position, not a field
        return "body"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"
