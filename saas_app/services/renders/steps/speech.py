"""The speech step: each scene's narration to a WAV file, charged in seconds of speech."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from saas_app.services.renders.media import speech
from saas_app.services.renders.steps.base import RenderCanceled, RenderContext, Step, StepResult
from saas_app.services.usage.metrics import SPEECH

if TYPE_CHECKING:
    from saas_app.services.renders.input import RenderInput

# Upper bounds of speaking time per character for espeak-ng at 170 wpm (measured: letters
# run 0.02-0.12 s, while a digit can expand to "billion" words, and an emoji is read out
# by name), so the reservation covers the real narration.
_SECONDS_PER_LETTER = 0.12
_SECONDS_PER_DIGIT = 0.5
_SECONDS_PER_SYMBOL = 0.35
_SECONDS_PER_OTHER = 1.0  # emoji and other non-letter characters outside ASCII
_SECONDS_PER_SCENE = 0.6
# Per scene: its narration's duration and its words' [text, start, end] (seconds from the scene's
# start), read by the captions, music and video steps.
MANIFEST = "speech.json"


def _scene_seconds(text: str) -> float:
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


def estimate_seconds(request: RenderInput) -> float:
    """An upper bound of the narration's length in seconds (0.1 s steps, rounded up)."""
    return math.ceil(sum(_scene_seconds(s.spoken) for s in request.scenes) * 10) / 10


def _estimate(request: RenderInput) -> dict[str, float]:
    return {SPEECH.name: estimate_seconds(request)}


def wav_path(ctx: RenderContext, index: int) -> Path:
    """The narration of scene `index`."""
    return ctx.work / f"scene_{index}.wav"


def _work_files(ctx: RenderContext) -> list[Path]:
    return [ctx.work / MANIFEST, *[wav_path(ctx, i) for i in range(len(ctx.scenes))]]


def _run(ctx: RenderContext) -> StepResult:
    durations: list[float] = []
    words: list[list[list[str | float]]] = []
    fell_back, used_voice = False, ctx.voice
    for i, scene in enumerate(ctx.scenes):
        if ctx.canceled():
            raise RenderCanceled()
        result = speech.synthesize(text=scene.get("narration") or scene["text"], voice=ctx.voice,
                                   out_path=wav_path(ctx, i))
        durations.append(result.seconds)
        words.append([[w.text, w.start, w.end] for w in result.words])
        fell_back, used_voice = fell_back or result.fell_back, result.voice
        ctx.report((i + 1) / len(ctx.scenes))
    manifest = {"durations": durations, "words": words, "voice": used_voice, "fell_back": fell_back}
    (ctx.work / MANIFEST).write_text(json.dumps(manifest))
    note = f"Voice '{ctx.voice}' is not available; English was used." if fell_back else ""
    return StepResult({SPEECH.name: round(sum(durations), 3)}, detail=f"{sum(durations):.1f} s of narration",
                      render_updates={"notes": note} if note else {})


STEP = Step("speech", "Narration", _run, charges=(SPEECH.name,), estimate=_estimate, work_files=_work_files)
