"""What a render request may contain, and its usage estimate (from the registered steps)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, field_validator

from saas_app.services.core.validation import OptionalUserText, UserText
from saas_app.services.renders.media.images import DEFAULT_TEMPLATE, RESOLUTIONS, TEMPLATES
from saas_app.services.renders.media.speech import DEFAULT_VOICE, VOICES
from saas_app.services.renders.steps.registry import STEPS
from saas_app.services.usage.metrics import METRICS

DEFAULT_RESOLUTION = "720p"
# The choices a request may name, each from its registry: field -> allowed values.
CHOICES: dict[str, tuple[str, ...]] = {
    "template": tuple(TEMPLATES), "voice": tuple(VOICES), "resolution": tuple(RESOLUTIONS),
}


def _choice_field(name: str, default: str) -> Any:
    allowed: list[JsonValue] = list(CHOICES[name])
    return Field(default=default, json_schema_extra={"enum": allowed},
                 description=f"One of: {', '.join(CHOICES[name])}.")


def check_choice(value: object, *, allowed: Iterable[str], what: str) -> str:
    """`value` if it is one of `allowed` (surrounding spaces ignored).

    Raises:
        ValueError: Anything else (null, a number, an unknown name), with the allowed values named.
    """
    allowed = tuple(allowed)
    if isinstance(value, str) and value.strip() in allowed:
        return value.strip()
    raise ValueError(f"unknown {what}; choose one of: {', '.join(allowed)}")


class SceneInput(BaseModel):
    """One scene: on-screen text and optional narration (defaults to the text)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: UserText = Field(min_length=1, max_length=300)
    narration: OptionalUserText = Field(default=None, max_length=1000)

    @property
    def spoken(self) -> str:
        """What the narrator says."""
        return self.narration or self.text


class RenderInput(BaseModel):
    """A render request: topic, 1-20 scenes, template, voice, resolution (each choice from its registry)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    topic: UserText = Field(min_length=1, max_length=120)
    scenes: list[SceneInput] = Field(min_length=1, max_length=20)
    template: str = _choice_field("template", DEFAULT_TEMPLATE)
    voice: str = _choice_field("voice", DEFAULT_VOICE)
    resolution: str = _choice_field("resolution", DEFAULT_RESOLUTION)

    @field_validator("template", "voice", "resolution", mode="before")
    @classmethod
    def _known_choice(cls, value: object, info: ValidationInfo) -> str:
        name = str(info.field_name)
        return check_choice(value, allowed=CHOICES[name], what=name)


def estimate_usage(request: RenderInput) -> dict[str, float]:
    """An upper estimate of what the render will use, per metric (reserved at admission).

    The sum of every registered step's estimate, in metric order.
    """
    totals: dict[str, float] = {}
    for step in STEPS:
        for metric, amount in step.estimate(request).items():
            totals[metric] = totals.get(metric, 0.0) + amount
    return {m: float(totals[m]) for m in METRICS.names() if m in totals}
