"""Video assembly with ffmpeg (the binary shipped in the `imageio-ffmpeg` wheel).

One ffmpeg command turns the scene images and narration WAVs into an H.264 + AAC MP4
with `faststart`, each scene exactly as long as its narration. The process is watched:
progress is reported, a cancel request or the step timeout kills it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from saas_app.settings import get_settings

FPS = 15
_PR_SET_PDEATHSIG = 1


class FfmpegTimeout(RuntimeError):
    """ffmpeg ran past its time limit and was killed."""


class FfmpegCanceled(RuntimeError):
    """The render was canceled while ffmpeg ran."""


class FfmpegFailed(RuntimeError):
    """ffmpeg exited with an error (the message holds the tail of its log)."""


class FfmpegDiskFull(FfmpegFailed):
    """ffmpeg could not write its output: the disk (or the file size limit) is full."""


_DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")


@dataclass(frozen=True)
class Scene:
    """One scene's inputs."""

    image: Path
    audio: Path
    seconds: float


def ffmpeg_exe() -> str:
    """The ffmpeg to run: `FFMPEG_BINARY` when set, else the one bundled in the wheel."""
    return get_settings().FFMPEG_BINARY or imageio_ffmpeg.get_ffmpeg_exe()


def _filter_path(path: Path) -> str:
    """A path as a quoted filter option value (`:` and `'` escaped)."""
    return "'" + str(path).replace("\\", "/").replace("'", "\\'").replace(":", "\\:") + "'"


def build_command(scenes: list[Scene], out_path: Path, *, captions: Path | None = None,
                  music: Path | None = None) -> list[str]:
    """The ffmpeg argument list that encodes `scenes` into `out_path`, burning in the ASS
    `captions` and mixing the (already ducked) `music` under the narration when given."""
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1"]
    chains, pairs = [], []
    for i, scene in enumerate(scenes):
        # Decode each still once, convert it to the output pixel format once, then clone the
        # converted frame (converting every cloned frame instead made encoding ~1.6x slower).
        args += ["-framerate", str(FPS), "-i", str(scene.image), "-i", str(scene.audio)]
        hold = max(0.0, scene.seconds - 1 / FPS)
        chains.append(f"[{2 * i}:v]format=yuv420p,tpad=stop_mode=clone:stop_duration={hold:.3f}[s{i}]")
        pairs.append(f"[s{i}][{2 * i + 1}:a]")
    graph = ";".join(chains) + ";" + "".join(pairs) + f"concat=n={len(scenes)}:v=1:a=1[v][a]"
    video_out, audio_out = "[v]", "[a]"
    if captions is not None:
        graph += f";[v]ass=filename={_filter_path(captions)}[vc]"
        video_out = "[vc]"
    if music is not None:
        args += ["-i", str(music)]
        graph += f";[a][{2 * len(scenes)}:a]amix=inputs=2:duration=first:normalize=0[am]"
        audio_out = "[am]"
    args += [
        "-filter_complex", graph, "-map", video_out, "-map", audio_out,
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", "26", "-r", str(FPS),
        "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-movflags", "+faststart", str(out_path),
    ]
    return args


def _die_with_parent() -> None:  # pragma: no cover (runs in the child between fork and exec)
    """Linux: ffmpeg gets SIGKILL when the process that started it dies (e.g. a killed work-horse)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _pump(stream: Iterable[str], sink: queue.Queue[str] | list[str]) -> None:
    for line in stream:
        if isinstance(sink, queue.Queue):
            sink.put(line)
        else:
            sink.append(line)


def run_ffmpeg(
    args: list[str],
    *,
    total_seconds: float,
    timeout: float,
    on_progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> None:
    """Run ffmpeg, reporting progress (0-1) and killing it on timeout or cancel.

    The deadline and cancel are checked four times a second whether or not ffmpeg prints.

    Raises:
        FfmpegTimeout, FfmpegCanceled, FfmpegFailed.
    """
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_die_with_parent)
    progress: queue.Queue[str] = queue.Queue()
    errors: list[str] = []
    for stream, sink in ((proc.stdout, progress), (proc.stderr, errors)):
        threading.Thread(target=_pump, args=(stream, sink), daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                code = proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            _report(progress, total_seconds, on_progress)
            if time.monotonic() > deadline:
                raise FfmpegTimeout(f"ffmpeg did not finish within {timeout:.0f} s")
            if should_cancel and should_cancel():
                raise FfmpegCanceled("stopped: the render was canceled")
    finally:
        if proc.poll() is None:
            _kill(proc)
    if code != 0:
        log = "".join(errors)
        failure = FfmpegDiskFull if any(marker in log for marker in _DISK_FULL) else FfmpegFailed
        raise failure(f"ffmpeg exited with {code}: {log[-500:]}")


def _report(lines: queue.Queue[str], total_seconds: float, on_progress: Callable[[float], None] | None) -> None:
    while not lines.empty():
        line = lines.get_nowait()
        if line.startswith("out_time_us=") and on_progress and total_seconds > 0:
            micro = line.split("=", 1)[1].strip()
            if micro.isdigit():
                on_progress(min(1.0, int(micro) / 1e6 / total_seconds))


def encode_video(
    *, scenes: list[Scene], out_path: Path, timeout: float, captions: Path | None = None, music: Path | None = None,
    on_progress: Callable[[float], None] | None = None, should_cancel: Callable[[], bool] | None = None,
) -> Path:
    """Encode the scenes into an MP4 at `out_path` (written atomically: a failed run leaves no file), with
    burned-in `captions` (an ASS script) and mixed-in `music` (a WAV) when given.

    Raises:
        FfmpegTimeout, FfmpegCanceled, FfmpegDiskFull, FfmpegFailed.
    """
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(f".tmp.{os.getpid()}.mp4")  # per attempt: a dead attempt never shares it
    total = sum(s.seconds for s in scenes)
    try:
        run_ffmpeg(build_command(scenes, tmp, captions=captions, music=music), total_seconds=total,
                   timeout=timeout, on_progress=on_progress, should_cancel=should_cancel)
        tmp.replace(out_path)
    finally:  # whatever stopped it (a full disk, the timeout, a cancel), no partial file is left
        tmp.unlink(missing_ok=True)
    return out_path


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class MediaInfo:
    """What ffmpeg reports about a media file."""

    seconds: float
    has_video: bool
    has_audio: bool
    video_codec: str
    audio_codec: str
    width: int = 0
    height: int = 0


def probe(path: Path) -> MediaInfo:
    """Duration, streams and frame size of a media file (parsed from `ffmpeg -i`; the wheel has no ffprobe)."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    match = _DURATION.search(out)
    seconds = int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3]) if match else 0.0
    video = re.search(r"Stream #.*Video: (\w+)", out)
    audio = re.search(r"Stream #.*Audio: (\w+)", out)
    size = re.search(r"Stream #.*Video: .*?, (\d+)x(\d+)", out)
    return MediaInfo(seconds=seconds, has_video=bool(video), has_audio=bool(audio),
                     video_codec=video[1] if video else "", audio_codec=audio[1] if audio else "",
                     width=int(size[1]) if size else 0, height=int(size[2]) if size else 0)
