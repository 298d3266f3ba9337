"""Whether a render's estimate fits what the plan has left, in words: the create page's hint per
metric ("3 images · 2 left") and the refusal that names used, limit and requested."""

from __future__ import annotations

from saas_app.services.usage.metrics import METRICS

_EPSILON = 1e-9


def fits(amount: float, remaining: float | None) -> bool:
    """Whether `amount` fits in `remaining` (None: no limit)."""
    return remaining is None or amount <= remaining + _EPSILON


def fit_line(metric: str, *, amount: float, remaining: float | None, known: bool = True) -> str:
    """One line of the create page's estimate, e.g. "3 images · 2 left" or "about 12 s of narration · 16.7 min left".

    Args:
        metric: A registered metric's name.
        amount: What this render will use (its estimate).
        remaining: What the plan has left this month (None: no limit).
        known: Whether what is left is known (False: the estimate alone).
    """
    found = METRICS.get(metric)
    used = found.estimated.format(found.text(amount))
    if not known:
        return used
    return f"{used} · {'no limit' if remaining is None else found.format(max(0.0, remaining)) + ' left'}"


def refusal_message(metric: str, *, used: float, limit: float, requested: float) -> str:
    """Why a render does not fit, with the numbers: what it needs, what is left, used of limit."""
    found = METRICS.get(metric)
    left = max(0.0, limit - used)
    return (f"{found.label}: this render needs {found.text(requested)}, and your plan has {found.text(left)} left "
            f"this month ({found.format(used)} of {found.format(limit)} used). "
            "Upgrade your plan or wait for the monthly reset.")


def blocked_reason(estimate: dict[str, float], remaining: dict[str, float | None]) -> str:
    """Why a render with this estimate would be refused now ("" when it fits), for the disabled Create button."""
    for metric, amount in estimate.items():
        left = remaining.get(metric)
        if metric in remaining and not fits(amount, left):
            found = METRICS.get(metric)
            return (f"Not enough {found.label.lower()} left this month: this video needs {found.text(amount)}, "
                    f"your plan has {found.text(max(0.0, left or 0.0))} left.")
    return ""
