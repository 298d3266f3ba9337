"""Display-ready dictionaries of renders (shared by the REST API and the pages)."""

from __future__ import annotations

import json

from sqlmodel import Session

from saas_app.models import Render, iso_or_none
from saas_app.services.renders.status import RenderStatus
from saas_app.services.renders.steps.registry import STEPS
from saas_app.services.renders.submission import list_steps
from saas_app.services.usage.ledger import list_render_rows


def step_label(name: str) -> str:
    """What the render page calls a step (its registered label)."""
    step = STEPS.find(name)
    return step.label if step is not None else name.replace("_", " ").title()


def summarize_render(render: Render) -> dict:
    """The short form used in lists."""
    return {
        "id": render.id, "topic": render.topic, "status": render.status, "template": render.template,
        "resolution": render.resolution, "duration_seconds": round(render.duration_seconds, 2),
        "scenes": len(json.loads(render.scenes_json)), "created_at": iso_or_none(render.created_at),
        "finished_at": iso_or_none(render.finished_at), "has_video": render.status == RenderStatus.SUCCEEDED,
    }


def describe_render(*, session: Session, render: Render) -> dict:
    """The full form: steps with progress, usage charged, estimate, error and notes."""
    charged: dict[str, float] = {}
    for row in list_render_rows(session=session, render_id=render.id):
        charged[row.metric] = round(charged.get(row.metric, 0.0) + row.amount, 6)
    steps = [
        {"name": s.name, "label": step_label(s.name), "status": s.status,
         "progress": round(s.progress, 3), "detail": s.detail, "started_at": iso_or_none(s.started_at),
         "finished_at": iso_or_none(s.finished_at)}
        for s in list_steps(session=session, render_id=render.id)
    ]
    return {
        **summarize_render(render), "voice": render.voice, "scenes_detail": json.loads(render.scenes_json),
        "steps": steps, "usage": charged, "estimate": json.loads(render.estimate_json or "{}"),
        "error": render.error or None, "notes": render.notes or None, "started_at": iso_or_none(render.started_at),
        "size_bytes": render.size_bytes, "attempts": render.attempts,
    }
