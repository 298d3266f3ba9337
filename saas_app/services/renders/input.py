"""What a render request may contain, and its usage estimate."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from saas_app.services.renders.media.images import DEFAULT_TEMPLATE, TEMPLATES
from saas_app.services.renders.media.speech import DEFAULT_VOICE

# Upper bounds of speaking time per character for espeak-ng at 170 wpm (measured: letters
# run 0.02-0.12 s, while a digit can expand to "billion" words, and an emoji is read out
# by name), so the reservation covers the real narration.
_SECONDS_PER_LETTER = 0.12
_SECONDS_PER_DIGIT = 0.5
_SECONDS_PER_SYMBOL = 0.35
_SECONDS_PER_OTHER = 1.0  # emoji and other non-letter characters outside ASCII
_SECONDS_PER_SCENE = 0.6
# Measured output size of 720p/1080p stills at 15 fps plus 96 kb/s AAC, with headroom.
_ESTIMATE_MB_PER_MINUTE = {"720p": 2.0, "1080p": 3.5}


class SceneInput(BaseModel):
    """One scene: on-screen text and optional narration (defaults to the text)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=300)
    narration: str | None = Field(default=None, max_length=1000)

    @property
    def spoken(self) -> str:
        """What the narrator says."""
        return self.narration or self.text


class RenderInput(BaseModel):
    """A render request: topic, 1-20 scenes, template, voice, resolution."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    topic: str = Field(min_length=1, max_length=120)
    scenes: list[SceneInput] = Field(min_length=1, max_length=20)
    template: str = Field(default=DEFAULT_TEMPLATE, max_length=32)
    voice: str = Field(default=DEFAULT_VOICE, max_length=32)
    resolution: Literal["720p", "1080p"] = "720p"

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        if value not in TEMPLATES:
            raise ValueError(f"unknown template; choose one of: {', '.join(TEMPLATES)}")
        return value

    @field_validator("template", "voice", mode="before")
    @classmethod
    def _default_when_empty(cls, value: object, info) -> object:  # type: ignore[no-untyped-def]
        if value in (None, ""):
            return DEFAULT_TEMPLATE if info.field_name == "template" else DEFAULT_VOICE
        return value


def _speech_seconds(text: str) -> float:
    total = _SECONDS_PER_SCENE
    for char in text:
        if char.isspace():
            continue
        if char.isdigit():
            total += _SECONDS_PER_DIGIT
        elif char.isalpha():
            total += _SECONDS_PER_LETTER
        elif char.isascii():
            total += _SECONDS_PER_SYMBOL
        else:
            total += _SECONDS_PER_OTHER
    return total


def estimate_usage(request: RenderInput) -> dict[str, float]:
    """An upper estimate of what the render will use, per metric (reserved at admission)."""
    speech = sum(_speech_seconds(s.spoken) for s in request.scenes)
    speech = math.ceil(speech * 10) / 10
    minutes = math.ceil(speech / 60 * 1000) / 1000
    storage = math.ceil(minutes * _ESTIMATE_MB_PER_MINUTE[request.resolution] * 1000 + 100) / 1000
    return {"images_count": float(len(request.scenes)), "tts_seconds": speech, "render_minutes": minutes,
            "storage_mb": storage}
