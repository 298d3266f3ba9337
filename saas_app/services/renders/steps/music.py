"""The music step: the chosen bed, looped to the narration's length at the chosen volume and ducked
under the narration, as a WAV the video step mixes in. Its work is paid for in the video's render
minutes, so it charges no metric of its own (and estimates none)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from saas_app.services.core.storage import Area, get_store
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
        music.duck_under(bed=_source(ctx),
                         narration=[speech.wav_path(ctx, i) for i in range(len(durations))],
                         seconds=sum(durations), volume=volume, out_path=path,
                         timeout=get_settings().RENDER_STEP_TIMEOUT_SECONDS)
    except KeyError as exc:
        raise StepError("That music is no longer offered; please pick another.", transient=False) from exc
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log.error("music for %s failed: %s", ctx.render_id, exc)
        raise StepError("The background music could not be made.", transient=True) from exc
    ctx.report(1.0)
    bed = music.BEDS.get(str(ctx.options["music"]))
    return StepResult({}, detail=f"{bed.name if bed else 'Your music'} at {round(volume * 100)}%")


def _source(ctx: RenderContext) -> Path:
    """The bed's file, or the uploaded track copied from the store into the work folder."""
    if ctx.options["music"] != music.UPLOADED:
        return music.bed_path(str(ctx.options["music"]))
    path = ctx.work / "music_upload"
    ctx.work.mkdir(parents=True, exist_ok=True)
    try:
        with get_store(Area.RENDERS).open(key=str(ctx.options["music_key"])) as source, path.open("wb") as target:
            shutil.copyfileobj(source, target)
    except FileNotFoundError as exc:
        raise StepError("The music chosen for this video was deleted from your library; please choose another.",
                        transient=False) from exc
    return path


STEP = Step("music", "Music", _run, charges=(), estimate=_estimate, work_files=_work_files)
