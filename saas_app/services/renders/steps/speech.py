"""The speech step: each scene's narration to a WAV file, charged in seconds of speech."""

from __future__ import annotations

import json
import math
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from saas_app.services.renders.media import speech
from saas_app.services.renders.steps.base import RenderCanceled, RenderContext, Step, StepResult
from saas_app.services.usage.metrics import SPEECH

if TYPE_CHECKING:
    from saas_app.services.renders.input import RenderInput

# Bounds of speaking time per character for espeak-ng at 170 wpm, measured over every offered
# voice (bench/speech_rates.py prints them): Latin letters run 0.02-0.12 s; a letter of another
# script is often read out by name (up to 0.98 s for kana, Han, Hebrew or Cyrillic in an
# Italian voice); a digit can expand to "billion" words; an emoji or symbol is read by name.
# Rare characters can run longer still: the pipeline stops a render at its reservation
# (`renders.reservation`), so the charge never exceeds this estimate either way.
_SECONDS_PER_LATIN_LETTER = 0.12
_SECONDS_PER_OTHER_LETTER = 1.25
_SECONDS_PER_MARK = 0.3  # combining vowel signs and accents (Devanagari, Arabic harakat)
_SECONDS_PER_DIGIT = 0.8  # measured up to 0.61 (ten-digit numbers in Portuguese)
_SECONDS_PER_SYMBOL = 0.35
_SECONDS_PER_OTHER = 2.0  # emoji and other non-letter characters outside ASCII
_SECONDS_PER_SCENE = 0.6
MANIFEST = "speech.json"  # durations of the scenes' narration, read by the video step


def _char_seconds(char: str) -> float:
    if char.isdigit():
        return _SECONDS_PER_DIGIT
    if char.isalpha():
        latin = char.isascii() or unicodedata.name(char, "").startswith("LATIN")
        return _SECONDS_PER_LATIN_LETTER if latin else _SECONDS_PER_OTHER_LETTER
    if unicodedata.category(char).startswith("M"):
        return _SECONDS_PER_MARK
    return _SECONDS_PER_SYMBOL if char.isascii() else _SECONDS_PER_OTHER


def _scene_seconds(text: str) -> float:
    return _SECONDS_PER_SCENE + sum(_char_seconds(char) for char in text if not char.isspace())


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
    fell_back, used_voice = False, ctx.voice
    for i, scene in enumerate(ctx.scenes):
        if ctx.canceled():
            raise RenderCanceled()
        result = speech.synthesize(text=scene.get("narration") or scene["text"], voice=ctx.voice,
                                   out_path=wav_path(ctx, i))
        durations.append(result.seconds)
        fell_back, used_voice = fell_back or result.fell_back, result.voice
        ctx.report((i + 1) / len(ctx.scenes))
        if sum(durations) > ctx.reserved.get(SPEECH.name, math.inf):
            break  # already past the reservation: the pipeline charges what it has left and stops
    manifest = {"durations": durations, "voice": used_voice, "fell_back": fell_back}
    (ctx.work / MANIFEST).write_text(json.dumps(manifest))
    note = f"Voice '{ctx.voice}' is not available; English was used." if fell_back else ""
    return StepResult({SPEECH.name: round(sum(durations), 3)}, detail=f"{sum(durations):.1f} s of narration",
                      render_updates={"notes": note} if note else {})


STEP = Step("speech", "Narration", _run, charges=(SPEECH.name,), estimate=_estimate, work_files=_work_files)
