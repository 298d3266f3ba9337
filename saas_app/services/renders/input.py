"""What a render request may contain, and its usage estimate (from the registered steps)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from saas_app.services.renders.formats import Aspect
from saas_app.services.renders.media.captions import CaptionStyle
from saas_app.services.renders.media.images import DEFAULT_TEMPLATE, TEMPLATES
from saas_app.services.renders.media.music import BEDS, NONE, UPLOADED
from saas_app.services.renders.media.speech import DEFAULT_VOICE
from saas_app.services.renders.steps.registry import STEPS
from saas_app.services.usage.metrics import METRICS


class SceneInput(BaseModel):
    """One scene: on-screen text and optional narration (defaults to the text)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=300)
    narration: str | None = Field(default=None, max_length=1000)
    image: str | None = Field(default=None, max_length=32,
                              description="An image asset's id: shown in this scene instead of a title card")

    @property
    def spoken(self) -> str:
        """What the narrator says."""
        return self.narration or self.text


class RenderInput(BaseModel):
    """A render request: topic, 1-20 scenes, template, voice, resolution, format, captions and music."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    topic: str = Field(min_length=1, max_length=120)
    scenes: list[SceneInput] = Field(min_length=1, max_length=20)
    template: str = Field(default=DEFAULT_TEMPLATE, max_length=32)
    voice: str = Field(default=DEFAULT_VOICE, max_length=32)
    resolution: Literal["720p", "1080p"] = "720p"
    aspect: Aspect = Aspect.LANDSCAPE
    captions: CaptionStyle = CaptionStyle.OFF
    music: str = Field(default=NONE, max_length=32)
    music_volume: int = Field(default=30, ge=0, le=100, description="Music level in percent (ducked under speech)")
    music_asset: str | None = Field(default=None, max_length=32,
                                    description="A music asset's id: played instead of a built-in bed")

    @field_validator("music")
    @classmethod
    def _known_music(cls, value: str) -> str:
        if value not in (NONE, *BEDS):
            raise ValueError(f"unknown music; choose one of: {', '.join((NONE, *BEDS))}")
        return value

    @property
    def options(self) -> dict[str, str | int]:
        """The format, caption and music choices, as stored on the render (`Render.options_json`)."""
        return {"aspect": self.aspect.value, "captions": self.captions.value,
                "music": UPLOADED if self.music_asset else self.music, "music_volume": self.music_volume}

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        if value not in TEMPLATES:
            raise ValueError(f"unknown template; choose one of: {', '.join(TEMPLATES)}")
        return value

    @field_validator("template", "voice", mode="before")
    @classmethod
    def _default_when_empty(cls, value: object, info: ValidationInfo) -> object:
        if value in (None, ""):
            return DEFAULT_TEMPLATE if info.field_name == "template" else DEFAULT_VOICE
        return value


def estimate_usage(request: RenderInput) -> dict[str, float]:
    """An upper estimate of what the render will use, per metric (reserved at admission).

    The sum of every registered step's estimate, in metric order.
    """
    totals: dict[str, float] = {}
    for step in STEPS:
        for metric, amount in step.estimate(request).items():
            totals[metric] = totals.get(metric, 0.0) + amount
    return {m: float(totals[m]) for m in METRICS.names() if m in totals}
