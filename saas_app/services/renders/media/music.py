"""Background music: beds the project makes itself with ffmpeg's synthesis filters (made once,
at first use, into a cache folder; nothing is downloaded), and a bed looped to the video's
length and ducked under the narration with a sidechain compressor.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from saas_app.services.renders.media.video import ffmpeg_exe

NONE = "none"
UPLOADED = "upload"  # the render plays a track from the workspace's asset library
SAMPLE_RATE = 44100
BED_SECONDS = 16  # each bed loops seamlessly: every expression repeats within 16 s


@dataclass(frozen=True)
class Bed:
    """A royalty-free music bed: an `aevalsrc` expression of time `t` (mono, -1..1)."""

    id: str
    name: str
    expression: str


def _chord(freqs: Sequence[float], speed: float) -> str:
    """Soft sines with a slow swell (`speed` swells a second)."""
    tones = "+".join(f"sin(2*PI*{f}*t)" for f in freqs)
    return f"0.25*({tones})/{len(freqs)}*(0.7+0.3*sin(2*PI*{speed}*t))"


BEDS: dict[str, Bed] = {b.id: b for b in [
    Bed("calm", "Calm pad", _chord([220.0, 261.63, 329.63, 440.0], 0.125)),
    Bed("bright", "Bright arpeggio",
        "0.3*sin(2*PI*t*(261.63+65.4*eq(mod(floor(t*4),4),1)+130.8*eq(mod(floor(t*4),4),2)"
        "+261.63*eq(mod(floor(t*4),4),3)))*exp(-4*mod(t,0.25))"),
    Bed("pulse", "Steady pulse",
        "0.5*sin(2*PI*55*t)*exp(-12*mod(t,0.5))+0.12*sin(2*PI*110*t)*(0.5+0.5*sin(2*PI*0.5*t))"),
]}


def _cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "saas_app_music"


def bed_path(bed_id: str) -> Path:
    """The bed's WAV file, made the first time it is asked for (atomically, so workers may race).

    Raises:
        KeyError: An unknown bed.
        subprocess.CalledProcessError: ffmpeg could not make it.
    """
    bed = BEDS[bed_id]
    path = _cache_dir() / f"{bed.id}.wav"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.wav")
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"aevalsrc='{bed.expression}':s={SAMPLE_RATE}:d={BED_SECONDS}", "-ac", "1", str(tmp)],
                   check=True, capture_output=True, timeout=60)
    tmp.replace(path)
    return path


def duck_command(*, bed: Path, narration: Sequence[Path], seconds: float, volume: float, out_path: Path) -> list[str]:
    """The ffmpeg arguments that loop `bed` for `seconds`, set it to `volume` (0-1) and duck it
    under the narration (the scene WAVs played one after another), writing the music alone."""
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
            "-stream_loop", "-1", "-i", str(bed)]
    for path in narration:
        args += ["-i", str(path)]
    fmt = f"aformat=sample_rates={SAMPLE_RATE}:channel_layouts=mono"
    voices = "".join(f"[{i + 1}:a]" for i in range(len(narration)))
    graph = (f"[0:a]atrim=0:{seconds:.3f},{fmt},volume={volume:.3f}[bed];"
             f"{voices}concat=n={len(narration)}:v=0:a=1,{fmt}[voice];"
             "[bed][voice]sidechaincompress=threshold=0.015:ratio=12:attack=15:release=350:makeup=1[music]")
    return [*args, "-filter_complex", graph, "-map", "[music]", "-c:a", "pcm_s16le", str(out_path)]


def duck_under(*, bed: Path, narration: Sequence[Path], seconds: float, volume: float, out_path: Path,
               timeout: float) -> Path:
    """Write the bed, looped to `seconds` at `volume` (0-1) and ducked under the narration, to a WAV.

    Raises:
        subprocess.CalledProcessError, subprocess.TimeoutExpired: ffmpeg failed or ran too long.
    """
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(f".tmp{os.getpid()}.wav")
    subprocess.run(duck_command(bed=bed, narration=narration, seconds=seconds, volume=volume, out_path=tmp),
                   check=True, capture_output=True, timeout=timeout)
    tmp.replace(out_path)
    return out_path
