"""The video step: stills and narration (with burned-in captions and ducked music, when the
captions and music steps made them) into an MP4 and a thumbnail, charged in render minutes
(and, as for every kept file, in storage)."""

from __future__ import annotations

import json
import logging
import math
from typing import TYPE_CHECKING

from saas_app.services.renders.media import images, video
from saas_app.services.renders.steps import captions, music, speech
from saas_app.services.renders.steps.base import KeptFile, RenderCanceled, RenderContext, Step, StepError, StepResult
from saas_app.services.renders.steps.images import png_path
from saas_app.services.usage.metering import ceil_minutes
from saas_app.services.usage.metrics import RENDER_MINUTES, STORAGE
from saas_app.settings import get_settings

if TYPE_CHECKING:
    from saas_app.services.renders.input import RenderInput

log = logging.getLogger(__name__)
VIDEO = KeptFile("video", "video.mp4", "video/mp4", attachment=True, primary=True)
THUMBNAIL = KeptFile("thumbnail", "thumb.jpg", "image/jpeg")
# Measured size of 720p/1080p stills at 15 fps plus 96 kb/s AAC, with headroom; plus the thumbnail.
_MB_PER_MINUTE = {"720p": 2.0, "1080p": 3.5}
_THUMBNAIL_MB = 0.1


DISK_FULL = "The server ran out of disk space while making the video."


def _estimate(request: RenderInput) -> dict[str, float]:
    minutes = ceil_minutes(speech.estimate_seconds(request))
    storage = math.ceil(minutes * _MB_PER_MINUTE[request.resolution] * 1000 + _THUMBNAIL_MB * 1000) / 1000
    return {RENDER_MINUTES.name: minutes, STORAGE.name: storage}


def _run(ctx: RenderContext) -> StepResult:
    durations = json.loads((ctx.work / speech.MANIFEST).read_text())["durations"]
    scenes = [video.Scene(png_path(ctx, i), speech.wav_path(ctx, i), d) for i, d in enumerate(durations)]
    out = ctx.folder / VIDEO.filename
    try:
        video.encode_video(scenes=scenes, out_path=out, timeout=get_settings().RENDER_STEP_TIMEOUT_SECONDS,
                           captions=captions.ass_path(ctx), music=music.track_path(ctx),
                           on_progress=ctx.report, should_cancel=ctx.canceled)
    except video.FfmpegCanceled as exc:
        raise RenderCanceled() from exc
    except video.FfmpegTimeout as exc:
        raise StepError("Rendering the video took too long and was stopped.", transient=True) from exc
    except video.FfmpegDiskFull as exc:
        log.error("disk full while encoding %s: %s", ctx.render_id, exc)
        raise StepError(DISK_FULL, transient=False) from exc
    except video.FfmpegFailed as exc:
        log.error("ffmpeg failed for %s: %s", ctx.render_id, exc)
        raise StepError("The video encoder failed.", transient=True) from exc
    images.make_thumbnail(source=png_path(ctx, 0), out_path=ctx.folder / THUMBNAIL.filename)
    seconds = video.probe(out).seconds or sum(durations)
    return StepResult({RENDER_MINUTES.name: ceil_minutes(seconds)}, detail=f"{seconds:.1f} s video",
                      render_updates={"duration_seconds": seconds})


STEP = Step("video", "Video", _run, charges=(RENDER_MINUTES.name,), estimate=_estimate, keeps=(VIDEO, THUMBNAIL))
