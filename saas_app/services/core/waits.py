"""How long to wait, in plain words: the one formatter for every wait a person is shown.

Every `Retry-After` a person reads (API messages, the sign-in page, exports, busy queues)
goes through `plain_wait`, so "3078 seconds" is never shown: "about 52 minutes" is.
"""

from __future__ import annotations

import math


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def plain_wait(seconds: float) -> str:
    """A wait in plain words, rounded up so nobody comes back too early.

    Args:
        seconds: The wait (as in `Retry-After`); 0 or less reads as "a few seconds".

    Returns:
        "a few seconds", "about 30 seconds", "about 1 minute", "about 52 minutes",
        "about 1 hour 5 minutes", "about 3 hours" or "about 2 days".
    """
    seconds = max(0, math.ceil(seconds))
    if seconds <= 5:
        return "a few seconds"
    if seconds < 60:
        return f"about {_plural(seconds, 'second')}"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"about {_plural(minutes, 'minute')}"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"about {_plural(math.ceil(minutes / 1440), 'day')}"
    if rest and hours < 3:
        return f"about {_plural(hours, 'hour')} {_plural(rest, 'minute')}"
    return f"about {_plural(hours + (1 if rest >= 30 else 0), 'hour')}"
