"""The create page: topic, an editable scene list, pickers, the estimate and submit."""

from __future__ import annotations

import json
from typing import Any

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
from saas_app.services.usage.fit import blocked_reason, fit_line, fits
from saas_app.services.usage.plans import first_premium_plan
from saas_app.state.render_options import RenderOptions
from saas_app.state.usage import UsageState

MAX_SCENES = 20
DRAFT_KEY = "narrated_studio_create_draft"  # the browser's localStorage key of the unsent form
_FORM_FIELDS = ("topic", "scenes", "template", "voice", "resolution")
# Focus an element of a scene once the page shows it (a new scene appears with the next render).
_FOCUS_JS = ("(function f(n){{const e=document.getElementById('{target}');"
             "if(e&&!e.disabled){{e.focus();e.scrollIntoView({{block:'center'}});}}"
             "else if(n>0){{requestAnimationFrame(()=>f(n-1));}}}})(60)")
# After a refused submit: bring the error into view and move focus to it.
_FOCUS_ERROR_JS = ("requestAnimationFrame(()=>{const e=document.getElementById('form-error-box');"
                   "if(e){e.scrollIntoView({block:'center'});e.focus();}})")
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
    amounts: dict[str, float] = {}
    draft: str = rx.LocalStorage("", name=DRAFT_KEY)
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
        self.amounts = {} if usage is None else dict(usage)
        self._save_draft()

    def _form(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FORM_FIELDS}

    def _save_draft(self) -> None:
        blank = not self.topic and all(not s["text"] and not s["narration"] for s in self.scenes)
        self.draft = "" if blank else json.dumps({"owner": self.user_email, **self._form()})

    def _restore_draft(self) -> None:
        """Bring back the form this user left in this browser (a reload, a closed tab), if the form is empty."""
        try:
            saved = json.loads(self.draft) if self.draft else {}
        except ValueError:
            saved = {}
        if not isinstance(saved, dict) or saved.get("owner") != self.user_email or self.topic:
            return
        scenes = saved.get("scenes")
        if isinstance(scenes, list) and all(isinstance(s, dict) for s in scenes):
            self.scenes = [{"text": str(s.get("text") or ""), "narration": str(s.get("narration") or "")}
                           for s in scenes[:MAX_SCENES]] or [_blank_scene()]
        for name in ("topic", "template", "voice", "resolution"):
            if isinstance(saved.get(name), str):
                setattr(self, name, saved[name])

    def _fill(self, *, topic: str, scenes: list[dict[str, str]], template: str, voice: str, resolution: str,
              aspect: str = "16:9", captions: str = "off", music: str = "none", music_volume: int = 30) -> None:
        """Put a render's input in the form (Edit & re-render: its format, captions, music and scene images
        too), or an empty form (all values blank)."""
        self.topic, self.template, self.voice, self.resolution = topic, template, voice, resolution
        self.aspect, self.captions, self.music, self.music_volume = aspect, captions, music, music_volume
        self.preview_src = ""
        self.scenes = [{name: s.get(name) or "" for name in _blank_scene()} for s in scenes] or [_blank_scene()]
        self.errors, self.form_error, self.upgrade_hint = {}, "", False
        self._changed()

    def _clear(self) -> None:
        self._fill(topic="", scenes=[], template="aurora", voice="en", resolution="720p")

    @rx.var
    def quota_lines(self) -> list[dict[str, str]]:
        """The estimate per metric with what the plan has left ("3 images · 2 left"); fits: "yes"/"no"."""
        known = not self.unavailable and bool(self.rows)
        return [{"metric": metric, "fits": "yes" if not known or fits(amount, self.remaining.get(metric)) else "no",
                 "text": fit_line(metric, amount=amount, remaining=self.remaining.get(metric), known=known)}
                for metric, amount in self.amounts.items()]

    @rx.var
    def blocked(self) -> str:
        """Why Create would be refused now ("" when the estimate fits what is left, or when that is unknown)."""
        if self.unavailable or not self.rows:
            return ""
        return blocked_reason(self.amounts, dict(self.remaining))

    @rx.event
    def load(self):
        """on_load: keep the draft (or bring back the one saved in this browser), drop earlier messages."""
        self.errors, self.form_error, self.upgrade_hint, self.submitting = {}, "", False, False
        self._restore_draft()
        self._changed()

    @rx.event
    def start_blank(self):
        """"Create another": an empty form."""
        self._clear()
        return rx.redirect(routes.CREATE)

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
            return rx.call_script(_FOCUS_JS.format(target=f"scene-text-{len(self.scenes) - 1}"))
        return None

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
            at_end = target in (0, len(self.scenes) - 1)  # its arrow that way is disabled there: focus the other
            direction = ("down" if delta < 0 else "up") if at_end else ("up" if delta < 0 else "down")
            return rx.call_script(_FOCUS_JS.format(target=f"move-{direction}-{target}"))
        return None

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
            yield rx.call_script(_FOCUS_ERROR_JS)
            return
        self.submitting, self.errors = True, {}
        yield
        try:
            render = await self._call(renders.create_render, principal=principal, request=request,
                                      ctx=self._request_context())
        except AppError as exc:
            self.form_error = exc.message
            self.upgrade_hint = isinstance(exc, (QuotaExceeded, PlanRequired))
            self.submitting = False
            yield rx.call_script(_FOCUS_ERROR_JS)
            return
        finally:
            self.submitting = False
        self._clear()
        yield rx.redirect(routes.render_path(render.id))
