"""What a render is charged when it does not succeed: the rule, enforced here, and its words for
the pages and the docs (the billing page and the cancel dialog show `CHARGE_RULE`).

A step's charges are recorded in the same transaction that marks the step done, and only while
the step is still running: a cancel (or a failure) that ended the render first leaves the step
canceled, and what it made is thrown away uncharged. That transaction and a cancel take the
render's row first, so one of them wins: once every step is done the render is made, and a cancel
is refused (`submission.cancel_render`). So a render is charged for its video (render minutes,
storage) only when it succeeds.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from saas_app.models import Render, RenderStep, utcnow
from saas_app.services.renders.status import RenderStatus, StepStatus

CHARGE_RULE = ("A canceled or failed video is charged only for the steps it finished before it ended "
               "(narration, images and captions already made); the video itself is not charged: no render "
               "minutes and nothing stored for it.")


def cancel_warning(charged: list[str]) -> str:
    """What the cancel dialog says stays charged, from the render's "Charged:" items so far.

    Args:
        charged: Display items of what the render was charged so far, e.g. ["3.1 s of narration"].
    """
    kept = (f"What it has made so far stays charged ({', '.join(charged)})" if charged
            else "Nothing has been charged yet")
    return f"{kept}. Nothing more will be charged, and the video will not be made."


def claim_step_charge(*, session: Session, render_id: str, step_id: int, detail: str) -> bool:
    """Mark a finished step done, if it is still running, in the caller's transaction (commit follows).

    Args:
        session: The transaction that then records the step's charges.
        render_id: The step's render.
        step_id: The step's row id.
        detail: The line shown under the step.

    Returns:
        True when the step's charges may be recorded; False when the render ended first (canceled,
        failed or deleted): nothing is to be charged for the step.
    """
    lock_render(session=session, render_id=render_id)
    now = utcnow()
    claimed = session.exec(update(RenderStep).where(
        col(RenderStep.id) == step_id, col(RenderStep.status) == StepStatus.RUNNING,
    ).values(status=StepStatus.DONE, progress=1.0, finished_at=now, detail=detail))
    if claimed.rowcount != 1:
        return False
    render = session.get(Render, render_id)
    return render is not None and render.deleted_at is None and render.status == RenderStatus.RUNNING


def lock_render(*, session: Session, render_id: str) -> None:
    """Take the render's row for the rest of the transaction, with a write (a row lock on PostgreSQL,
    the database's write lock on SQLite, which takes it before anything is read)."""
    session.exec(update(Render).where(col(Render.id) == render_id).values(status=Render.status))
