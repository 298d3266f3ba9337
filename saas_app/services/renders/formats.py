"""Video formats: the aspect ratios a render can have, the frame size of each at each
resolution, and the safe area that text keeps inside (the one place these are defined).

A resolution names the short side of the frame ("720p" = 720 pixels), so a 9:16 video at
720p is 720x1280 and a 1:1 video is 720x720. Which resolutions a plan may use is plan data
(`usage/entitlements.py`). Vertical video is watched in apps that draw their own buttons and
text over the frame's top and bottom and its right edge, so its safe area is deeper there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Aspect(StrEnum):
    """An aspect ratio (width:height)."""

    LANDSCAPE = "16:9"
    PORTRAIT = "9:16"
    SQUARE = "1:1"


DEFAULT_ASPECT = Aspect.LANDSCAPE
SHORT_SIDE: dict[str, int] = {"720p": 720, "1080p": 1080}


@dataclass(frozen=True)
class SafeArea:
    """Margins text stays out of, as fractions of the frame's width (left/right) or height (top/bottom)."""

    top: float
    bottom: float
    left: float
    right: float


_SAFE: dict[Aspect, SafeArea] = {
    Aspect.LANDSCAPE: SafeArea(0.1, 0.1, 0.0625, 0.0625),
    Aspect.SQUARE: SafeArea(0.08, 0.1, 0.08, 0.08),
    # Shorts/Reels/TikTok overlay their UI on the top ~12%, the bottom ~20% and the right ~12%.
    Aspect.PORTRAIT: SafeArea(0.12, 0.2, 0.06, 0.12),
}
ASPECT_LABELS: dict[Aspect, str] = {
    Aspect.LANDSCAPE: "16:9 landscape (YouTube)",
    Aspect.PORTRAIT: "9:16 vertical (Shorts, Reels, TikTok)",
    Aspect.SQUARE: "1:1 square (feeds)",
}


def frame_size(resolution: str, aspect: str) -> tuple[int, int]:
    """The frame's (width, height) in pixels, both even (H.264 with 4:2:0 needs that).

    Raises:
        KeyError: An unknown resolution or aspect ratio.
    """
    short = SHORT_SIDE[resolution]
    kind = Aspect(aspect)
    if kind == Aspect.SQUARE:
        return short, short
    long = short * 16 // 9
    long -= long % 2
    return (long, short) if kind == Aspect.LANDSCAPE else (short, long)


def safe_area(aspect: str) -> SafeArea:
    """The margins text keeps out of in this aspect ratio."""
    return _SAFE[Aspect(aspect)]
