"""The music step: the chosen bed, looped to the narration's length at the chosen volume and ducked
under the narration, as a WAV the video step mixes in. Its work is paid for in the video's render
minutes, so it charges no metric of its own (and estimates none)."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from saas_app.services.renders.media import music
from saas_app.services.renders.steps import speech
from saas_app.services.renders.steps.base import RenderCanceled, RenderContext, Step, StepError, StepResult
from saas_app.settings import get_settings

if TYPE_CHECKING:
    from saas_app.services.renders.input import RenderInput

log = logging.getLogger(__name__)
TRACK = "music.wav"


def _estimate(_request: RenderInput) -> dict[str, float]:
    return {}


def track_path(ctx: RenderContext) -> Path | None:
    """The ducked music to mix in, or None when the render has no music."""
    return None if ctx.options.get("music", music.NONE) == music.NONE else ctx.work / TRACK


def _work_files(ctx: RenderContext) -> list[Path]:
    path = track_path(ctx)
    return [path] if path else []


def _run(ctx: RenderContext) -> StepResult:
    path = track_path(ctx)
    if path is None:
        return StepResult({}, detail="No music")
    if ctx.canceled():
        raise RenderCanceled()
    durations = json.loads((ctx.work / speech.MANIFEST).read_text())["durations"]
    volume = int(ctx.options.get("music_volume", 30)) / 100
    try:
        music.duck_under(bed=music.bed_path(str(ctx.options["music"])),
                         narration=[speech.wav_path(ctx, i) for i in range(len(durations))],
                         seconds=sum(durations), volume=volume, out_path=path,
                         timeout=get_settings().RENDER_STEP_TIMEOUT_SECONDS)
    except KeyError as exc:
        raise StepError("That music is no longer offered; please pick another.", transient=False) from exc
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log.error("music for %s failed: %s", ctx.render_id, exc)
        raise StepError("The background music could not be made.", transient=True) from exc
    ctx.report(1.0)
    return StepResult({}, detail=f"{music.BEDS[str(ctx.options['music'])].name} at {round(volume * 100)}%")


STEP = Step("music", "Music", _run, charges=(), estimate=_estimate, work_files=_work_files)
