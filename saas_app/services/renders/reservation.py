"""The reservation is a ceiling: a render is never charged more than admission reserved for it.

Admission reserves the render's estimate (`input.estimate_usage`, kept on the render as
`estimate_json`). The estimate is meant to be an upper bound, but speech length depends on the
script and the voice, so the pipeline also checks every step's charge against what the
reservation has left: a step that used more is charged only what is left, and the render stops
there with a plain message. The speech step runs first and is cheap, so an underestimate is
found before the images and the video are made.
"""

from __future__ import annotations

import json

from sqlmodel import Session

from saas_app.models import Render
from saas_app.services.usage import ledger
from saas_app.services.usage.metrics import METRICS

_EPSILON = 1e-6  # amounts are rounded to 3-6 decimals


def cap_to_reservation(*, session: Session, render: Render, step: str,
                       amounts: dict[str, float]) -> tuple[dict[str, float], list[str]]:
    """A step's charges, each capped at what the render's reservation has left for its metric.

    Args:
        session: Open session (the render's ledger rows are read from it).
        render: The render being charged (its `estimate_json` is the reservation).
        step: The step's name (its own earlier rows, from a retried attempt, do not count against it).
        amounts: Metric name -> the amount the step used.

    Returns:
        The amounts to charge, and the names of the metrics whose use went over the reservation
        (empty when everything fits). A metric the reservation does not name is not capped.
    """
    reserved: dict[str, float] = json.loads(render.estimate_json or "{}")
    charged: dict[str, float] = {}
    for row in ledger.list_render_rows(session=session, render_id=render.id):
        if row.event_key != ledger.event_key(render.id, step, row.metric):
            charged[row.metric] = charged.get(row.metric, 0.0) + row.amount
    capped: dict[str, float] = dict(amounts)
    over: list[str] = []
    for metric, amount in amounts.items():
        if metric not in reserved:
            continue
        left = max(0.0, reserved[metric] - charged.get(metric, 0.0))
        if amount > left + _EPSILON:
            capped[metric] = round(left, 6)
            over.append(metric)
    return capped, over


def over_reservation_message(metrics: list[str]) -> str:
    """What the user reads when a render stopped at its reservation."""
    labels = " and ".join(METRICS.get(m).label.lower() for m in metrics)
    return (f"This video needs more {labels} than was reserved for it, so it was stopped and charged no more "
            "than the reservation. Shorten the text or the narration.")
