"""What a downloaded file is called: one rule for every file the API serves (videos, thumbnails,
exports), used for the local backend's `Content-Disposition` and S3's presigned responses alike."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_STEM = 80  # characters of the title kept in a file name
_NOT_WORD = re.compile(r"[^\w]+|_+")
_UNSAFE_ASCII = re.compile(r'[^\x20-\x7e]|["\\]')


def download_name(title: str, extension: str, *, fallback: str = "narrated-studio") -> str:
    """A file name made from a title: "How volcanoes work", ".mp4" -> "how-volcanoes-work.mp4".

    Args:
        title: What the file is about (a render's topic, "narrated-studio-export 2026-11-29").
        extension: With its dot, e.g. ".mp4".
        fallback: The stem when the title has no letters or digits at all.

    Returns:
        Lower-case words (any script) joined by "-", at most `MAX_STEM` characters, plus the extension.
    """
    words = _NOT_WORD.sub("-", unicodedata.normalize("NFKC", title).lower()).strip("-")
    stem = words[:MAX_STEM].rstrip("-") or fallback
    return f"{stem}{extension}"


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """The `Content-Disposition` header for a file (RFC 6266): an ASCII `filename` for every browser,
    plus `filename*` (RFC 5987, UTF-8) when the name has other characters.

    Args:
        filename: The name the browser saves the file under.
        inline: Shown in the browser (an image) rather than saved (a download).
    """
    kind = "inline" if inline else "attachment"
    ascii_name = _UNSAFE_ASCII.sub("_", filename)
    header = f'{kind}; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header
