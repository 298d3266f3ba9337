"""The captions step: cues from the narration's word timings, kept as `.srt` and `.vtt` (charged as
storage, like every kept file) and, when captions are burned in, an ASS script the video step draws."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from saas_app.services.renders.media import captions
from saas_app.services.renders.media.speech import WordTiming
from saas_app.services.renders.steps import speech
from saas_app.services.renders.steps.base import KeptFile, RenderCanceled, RenderContext, Step, StepResult
from saas_app.services.usage.metering import BYTES_PER_MB
from saas_app.services.usage.metrics import STORAGE

if TYPE_CHECKING:
    from saas_app.services.renders.input import RenderInput

SRT = KeptFile("srt", "captions.srt", "application/x-subrip", attachment=True, label="captions")
VTT = KeptFile("vtt", "captions.vtt", "text/vtt; charset=utf-8", attachment=True, label="captions")
ASS = "captions.ass"  # in the work folder, only when captions are burned in
# Worst case per word: a cue of its own in both files (number, two clocks, arrows, blank lines).
_BYTES_PER_CUE = 2 * 40
_HEADER_BYTES = 16
_TEXT_COPIES = 6  # the text once in .srt, and in .vtt up to 5 bytes a character ("&" is "&amp;")


def _estimate(request: RenderInput) -> dict[str, float]:
    size = _HEADER_BYTES
    for scene in request.scenes:
        words = re.findall(r"\S+", scene.spoken)
        size += _TEXT_COPIES * len(scene.spoken.encode("utf-8")) + _BYTES_PER_CUE * len(words)
    return {STORAGE.name: math.ceil(size / BYTES_PER_MB * 1e6) / 1e6}


def ass_path(ctx: RenderContext) -> Path | None:
    """The ASS script to burn in, or None when captions are not burned in."""
    style = ctx.options.get("captions", captions.CaptionStyle.OFF)
    return None if style == captions.CaptionStyle.OFF else ctx.work / ASS


def _work_files(ctx: RenderContext) -> list[Path]:
    path = ass_path(ctx)
    return [path] if path else []


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def load_cues(ctx: RenderContext) -> list[captions.Cue]:
    """The render's cues, from the speech step's manifest."""
    manifest = json.loads((ctx.work / speech.MANIFEST).read_text())
    scenes = manifest.get("words") or [[] for _ in manifest["durations"]]
    words = [[WordTiming(str(t), float(a), float(b)) for t, a, b in scene] for scene in scenes]
    return captions.build_cues(words, manifest["durations"], ctx.aspect)


def _run(ctx: RenderContext) -> StepResult:
    if ctx.canceled():
        raise RenderCanceled()
    cues = load_cues(ctx)
    ctx.folder.mkdir(parents=True, exist_ok=True)
    _write(ctx.folder / SRT.filename, captions.to_srt(cues))
    _write(ctx.folder / VTT.filename, captions.to_vtt(cues))
    path = ass_path(ctx)
    if path is not None:
        _write(path, captions.to_ass(cues, style=str(ctx.options["captions"]), resolution=ctx.resolution,
                                     aspect=ctx.aspect))
    ctx.report(1.0)
    burned = "" if path is None else ", burned in"
    return StepResult({}, detail=f"{len(cues)} caption{'' if len(cues) == 1 else 's'}{burned}")


STEP = Step("captions", "Captions", _run, charges=(), estimate=_estimate, work_files=_work_files, keeps=(SRT, VTT))
