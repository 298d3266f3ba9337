"""Typed views of renders and the render catalogue (shared by the REST API and the pages)."""

from __future__ import annotations

import json

from sqlmodel import Session

from saas_app.models import Render
from saas_app.services.auth.principal import Principal
from saas_app.services.core.views import IsoDatetime, View
from saas_app.services.renders.media.images import TEMPLATES
from saas_app.services.renders.media.speech import VOICES
from saas_app.services.renders.status import RenderStatus
from saas_app.services.renders.steps.registry import STEPS
from saas_app.services.renders.submission import get_render_or_raise, list_renders, list_steps
from saas_app.services.teams.permissions import Action, require
from saas_app.services.usage.ledger import list_render_rows


def step_label(name: str) -> str:
    """What the render page calls a step (its registered label)."""
    step = STEPS.find(name)
    return step.label if step is not None else name.replace("_", " ").title()


class StepView(View):
    """One pipeline step: status, progress (0-1) and a short detail line."""

    name: str
    label: str
    status: str
    progress: float
    detail: str
    started_at: IsoDatetime | None
    finished_at: IsoDatetime | None


class SceneView(View):
    """One scene as submitted."""

    text: str
    narration: str | None = None
    image: str | None = None


class OptionsView(View):
    """The format, captions and music a render was made with."""

    aspect: str = "16:9"
    captions: str = "off"
    music: str = "none"
    music_volume: int = 30
    music_asset: str | None = None  # the library track played, when `music` is "upload"


class RenderSummary(View):
    """The short form of a render, used in lists."""

    id: str
    topic: str
    status: str
    template: str
    resolution: str
    duration_seconds: float
    scenes: int
    created_at: IsoDatetime
    finished_at: IsoDatetime | None
    has_video: bool


class RenderDetail(RenderSummary):
    """The full form: steps, usage charged per metric, the admission estimate, error and notes."""

    voice: str
    options: OptionsView
    scenes_detail: list[SceneView]
    steps: list[StepView]
    usage: dict[str, float]
    estimate: dict[str, float]
    error: str | None
    notes: str | None
    started_at: IsoDatetime | None
    size_bytes: int
    attempts: int


class RenderPage(View):
    """One page of a tenant's renders, newest first."""

    items: list[RenderSummary]
    total: int
    limit: int
    offset: int


class RenderSubmitted(View):
    """A render admitted and queued, with the usage reserved for it."""

    id: str
    status: str
    estimate: dict[str, float]

    @classmethod
    def from_row(cls, render: Render) -> RenderSubmitted:
        """The answer to a submission."""
        return cls(id=render.id, status=render.status, estimate=json.loads(render.estimate_json))


class TemplateColors(View):
    """A template's gradient as `#rrggbb` colours."""

    top: str
    bottom: str


class TemplateView(View):
    """A visual template; `premium` ones need a paid plan."""

    id: str
    name: str
    description: str
    premium: bool
    colors: TemplateColors


class VoiceView(View):
    """A narration voice."""

    id: str
    name: str


def summarize_render(render: Render) -> RenderSummary:
    """The short view of a render row."""
    return RenderSummary(
        id=render.id, topic=render.topic, status=render.status, template=render.template,
        resolution=render.resolution, duration_seconds=round(render.duration_seconds, 2),
        scenes=len(json.loads(render.scenes_json)), created_at=render.created_at,
        finished_at=render.finished_at, has_video=render.status == RenderStatus.SUCCEEDED,
    )


def describe_render(*, session: Session, render: Render) -> RenderDetail:
    """The full view of a render row: steps with progress, usage charged, estimate, error and notes."""
    charged: dict[str, float] = {}
    for row in list_render_rows(session=session, render_id=render.id):
        charged[row.metric] = round(charged.get(row.metric, 0.0) + row.amount, 6)
    steps = [
        StepView(name=s.name, label=step_label(s.name), status=s.status,
                 progress=round(s.progress, 3), detail=s.detail, started_at=s.started_at, finished_at=s.finished_at)
        for s in list_steps(session=session, render_id=render.id)
    ]
    return RenderDetail(
        **summarize_render(render).model_dump(), voice=render.voice, scenes_detail=json.loads(render.scenes_json),
        options=OptionsView.model_validate(json.loads(render.options_json or "{}")),
        steps=steps, usage=charged, estimate=json.loads(render.estimate_json or "{}"),
        error=render.error or None, notes=render.notes or None, started_at=render.started_at,
        size_bytes=render.size_bytes, attempts=render.attempts,
    )


def get_render_detail(*, session: Session, principal: Principal, render_id: str) -> RenderDetail:
    """One render of the caller's workspace, in full.

    Raises:
        Forbidden: The caller's role may not see renders.
        NotFound: Not a render of this workspace.
    """
    require(principal, Action.RENDER_VIEW)
    render = get_render_or_raise(session=session, tenant_id=principal.tenant_id, render_id=render_id)
    return describe_render(session=session, render=render)


def list_render_page(*, session: Session, principal: Principal, limit: int, offset: int) -> RenderPage:
    """A page of the caller's workspace's renders, newest first, with the total count.

    Raises:
        Forbidden: The caller's role may not see renders.
    """
    require(principal, Action.RENDER_VIEW)
    rows, total = list_renders(session=session, tenant_id=principal.tenant_id, limit=limit, offset=offset)
    return RenderPage(items=[summarize_render(r) for r in rows], total=total, limit=limit, offset=offset)


def list_templates() -> list[TemplateView]:
    """The visual templates."""
    return [TemplateView(id=t.id, name=t.name, description=t.description, premium=t.premium,
                         colors=TemplateColors(top=_hex(t.top), bottom=_hex(t.bottom)))
            for t in TEMPLATES.values()]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


def list_voices() -> list[VoiceView]:
    """The narration voices."""
    return [VoiceView(id=k, name=v) for k, v in VOICES.items()]
