"""Helpers for the media tests: run registered steps on a render folder of a test's own (real
espeak-ng, Pillow and ffmpeg; no database), read frames and audio back."""

from __future__ import annotations

import array
import math
import subprocess
import wave
from pathlib import Path
from typing import Any

from PIL import Image

from saas_app.services.renders.media.video import ffmpeg_exe
from saas_app.services.renders.steps.base import RenderContext
from saas_app.services.renders.steps.registry import STEPS


def context(folder: Path, texts: list[str], resolution: str = "720p", **options: Any) -> RenderContext:
    """A render context for `texts` (one scene each) in `folder`."""
    return RenderContext(render_id="r1", tenant_id="t1", user_id="u1", topic="Why bees matter",
                         scenes=[{"text": t} for t in texts], template="noir", voice="en",
                         resolution=resolution, folder=folder, options=options)


def run_steps(ctx: RenderContext, *names: str) -> None:
    """Run the named steps (default: every registered step) in registry order."""
    for step in STEPS:
        if not names or step.name in names:
            step.run(ctx)


def frame_at(video: Path, seconds: float, out: Path) -> Image.Image:
    """The video's frame at `seconds`, as an RGB image."""
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{seconds:.3f}",
                    "-i", str(video), "-frames:v", "1", str(out)], check=True, capture_output=True)
    with Image.open(out) as image:
        return image.convert("RGB")


def region_difference(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> float:
    """The mean absolute difference (0-255) of two images inside `box` (left, top, right, bottom)."""
    pa, pb = a.crop(box).tobytes(), b.crop(box).tobytes()
    return sum(abs(x - y) for x, y in zip(pa, pb, strict=True)) / len(pa)


def read_pcm(path: Path) -> tuple[array.array[int], int]:
    """A 16-bit mono WAV's samples and sample rate."""
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        return array.array("h", wav.readframes(wav.getnframes())), wav.getframerate()


def rms(samples: array.array[int], rate: int, start: float, end: float) -> float:
    """The root mean square level of the samples between `start` and `end` seconds."""
    part = samples[int(start * rate):int(end * rate)]
    assert part, "an empty window"
    return math.sqrt(sum(x * x for x in part) / len(part))


def write_silence(path: Path, seconds: float, rate: int = 22050) -> Path:
    """A silent 16-bit mono WAV."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * int(seconds * rate))
    return path
