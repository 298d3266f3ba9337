"""The create page: topic, an editable scene list, pickers, the estimate and submit."""

from __future__ import annotations

import reflex as rx
from pydantic import ValidationError

from saas_app import routes
from saas_app.services.core.errors import AppError, PlanRequired, QuotaExceeded
from saas_app.services.core.validation import field_path, friendly_message
from saas_app.services.renders import submission as renders
from saas_app.services.renders.input import RenderInput, estimate_usage
from saas_app.services.renders.media.images import RESOLUTIONS, TEMPLATES
from saas_app.services.renders.media.speech import VOICES
from saas_app.services.usage.entitlements import PREMIUM_RESOLUTIONS
from saas_app.services.usage.plans import first_premium_plan
from saas_app.state.formatting import estimate_text
from saas_app.state.render_options import RenderOptions
from saas_app.state.usage import UsageState

MAX_SCENES = 20
_FIELD_LABELS = {"topic": "Topic", "text": "Scene text", "narration": "Narration", "scenes": "Scenes"}


def _blank_scene() -> dict[str, str]:
    return {"text": "", "narration": "", "image": ""}


class CreateState(RenderOptions, UsageState):
    """Form values are display strings; ids and rules stay in the services."""

    topic: str = ""
    scenes: list[dict[str, str]] = [_blank_scene()]
    template: str = "aurora"
    voice: str = "en"
    resolution: str = "720p"
    errors: dict[str, str] = {}
    form_error: str = ""
    upgrade_hint: bool = False
    submitting: bool = False
    estimate: list[str] = []
    template_options: list[dict[str, str]] = [
        {"id": t.id, "label": f"{t.name} ({first_premium_plan().name})" if t.premium else t.name,
         "description": t.description}
        for t in TEMPLATES.values()
    ]
    resolution_options: list[dict[str, str]] = [
        {"id": r, "label": f"{r} ({first_premium_plan().name})" if r in PREMIUM_RESOLUTIONS else r}
        for r in RESOLUTIONS
    ]
    voice_options: list[dict[str, str]] = [{"id": k, "label": v} for k, v in VOICES.items()]

    def _request_scenes(self) -> list[dict]:
        return [{"text": s["text"], "narration": s["narration"] or None, "image": s.get("image") or None}
                for s in self.scenes]

    def _request(self) -> RenderInput:
        return RenderInput(topic=self.topic, scenes=self._request_scenes(), template=self.template, voice=self.voice,
                           resolution=self.resolution, **self._render_options())

    def _changed(self) -> None:
        self.form_error, self.upgrade_hint = "", False
        try:
            usage = estimate_usage(RenderInput(topic=self.topic or "draft", scenes=self._request_scenes()))
        except ValidationError:
            usage = None
        self.estimate = [] if usage is None else [estimate_text(m, v) for m, v in usage.items()]

    @rx.event
    def load(self):
        """on_load: keep the draft, drop messages from an earlier visit."""
        self.errors, self.form_error, self.upgrade_hint, self.submitting = {}, "", False, False
        self._changed()

    @rx.event
    def set_topic(self, value: str):
        """Topic typed."""
        self.topic = value
        self.errors = {k: v for k, v in self.errors.items() if k != "topic"}
        self._changed()

    @rx.event
    def set_scene_field(self, index: int, field: str, value: str):
        """A scene's text or narration typed."""
        if 0 <= index < len(self.scenes) and field in ("text", "narration"):
            self.scenes[index] = {**self.scenes[index], field: value}
            self.errors = {k: v for k, v in self.errors.items() if k != f"scenes.{index}.{field}"}
            self._changed()

    @rx.event
    def add_scene(self):
        """Append an empty scene (up to 20)."""
        if len(self.scenes) < MAX_SCENES:
            self.scenes.append(_blank_scene())
            self._changed()

    @rx.event
    def remove_scene(self, index: int):
        """Remove a scene (one always stays)."""
        if len(self.scenes) > 1 and 0 <= index < len(self.scenes):
            self.scenes.pop(index)
            self.errors = {}
            self._changed()

    @rx.event
    def move_scene(self, index: int, delta: int):
        """Move a scene up (-1) or down (+1)."""
        target = index + delta
        if 0 <= index < len(self.scenes) and 0 <= target < len(self.scenes):
            self.scenes[index], self.scenes[target] = self.scenes[target], self.scenes[index]
            self.errors = {}
            self._changed()

    @rx.event
    def set_option(self, name: str, value: str):
        """Template, voice or resolution picked."""
        if name in ("template", "voice", "resolution"):
            setattr(self, name, value)
            self._changed()

    def _field_errors(self, exc: ValidationError) -> dict[str, str]:
        found: dict[str, str] = {}
        for err in exc.errors():
            label = _FIELD_LABELS.get(str(err["loc"][-1]), str(err["loc"][-1]).title())
            found.setdefault(field_path(err["loc"]), f"{label} {friendly_message(err)}.")
        return found

    @rx.event
    async def submit(self):
        """Validate, then submit through the render service and open the render page."""
        if self.submitting:  # a double click: the first submit is still on its way
            return
        principal = await self._resolve_principal()
        if principal is None:
            yield self._to_login()
            return
        try:
            request = self._request()
        except ValidationError as exc:
            self.errors = self._field_errors(exc)
            self.form_error = "Please fix the highlighted fields."
            return
        self.submitting, self.errors = True, {}
        yield
        try:
            render = await self._call(renders.create_render, principal=principal, request=request,
                                      ctx=self._request_context())
        except AppError as exc:
            self.form_error = exc.message
            self.upgrade_hint = isinstance(exc, (QuotaExceeded, PlanRequired))
            return
        finally:
            self.submitting = False
        self.scenes, self.topic, self.errors, self.form_error = [_blank_scene()], "", {}, ""
        yield rx.redirect(routes.render_path(render.id))
