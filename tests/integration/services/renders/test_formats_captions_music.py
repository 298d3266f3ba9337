"""Formats, captions and music, made by the registered steps with real espeak-ng, Pillow and ffmpeg:
frame sizes per aspect ratio, caption files that parse and follow the narration, burned-in
captions in the caption band, music ducked under the narration."""

from __future__ import annotations

import json
from pathlib import Path

import pysubs2
import pytest
from render_media import context, frame_at, read_pcm, region_difference, rms, run_steps, write_silence

from saas_app.services.renders.formats import frame_size, safe_area
from saas_app.services.renders.media import music, speech
from saas_app.services.renders.media.images import CAPTION_BAND
from saas_app.services.renders.media.video import probe
from saas_app.services.renders.steps import captions as captions_step
from saas_app.services.renders.steps import speech as speech_step

TEXTS = ["Honey bees dance to tell each other where the flowers are. They share the news.",
         "A single hive visits millions of blossoms in a season."]


@pytest.mark.parametrize(("resolution", "aspect", "size"), [
    ("720p", "16:9", (1280, 720)), ("720p", "9:16", (720, 1280)), ("720p", "1:1", (720, 720)),
    ("1080p", "9:16", (1080, 1920)),
])
def test_each_aspect_ratio_renders_at_its_frame_size(tmp_path: Path, resolution: str, aspect: str,
                                                     size: tuple[int, int]) -> None:
    ctx = context(tmp_path, TEXTS[:1], resolution, aspect=aspect, captions="line", music="calm")
    run_steps(ctx)
    info = probe(tmp_path / "video.mp4")
    assert (info.width, info.height) == size == frame_size(resolution, aspect)
    assert info.has_audio and info.seconds > 1


def _narration_times(ctx_folder: Path) -> tuple[list[float], list[list[list[object]]]]:
    manifest = json.loads((ctx_folder / "work" / speech_step.MANIFEST).read_text())
    return manifest["durations"], manifest["words"]


def test_caption_files_parse_and_their_cues_follow_the_narration(tmp_path: Path) -> None:
    ctx = context(tmp_path, TEXTS, aspect="9:16")
    run_steps(ctx, "speech", "captions")
    durations, words = _narration_times(tmp_path)
    srt = pysubs2.load(str(tmp_path / "captions.srt"), format_="srt")
    vtt = pysubs2.load(str(tmp_path / "captions.vtt"), format_="vtt")
    assert (tmp_path / "captions.vtt").read_text().startswith("WEBVTT\n")
    spoken = " ".join(" ".join(t for t in TEXTS).split())
    for subs in (srt, vtt):
        assert " ".join(e.plaintext.replace("\n", " ") for e in subs) == spoken
    # Every cue starts where its first word is spoken and ends where its last one ends (1 ms text precision).
    offsets = [0.0, durations[0]]
    timed = [(float(a) + offsets[i], float(b) + offsets[i]) for i, scene in enumerate(words) for _t, a, b in scene]
    def spoken_at(seconds: float, moments: list[float]) -> bool:  # within the file's 1 ms (+ float noise)
        return any(abs(seconds - moment) <= 0.0011 for moment in moments)

    for event in srt:
        assert spoken_at(event.start / 1000, [a for a, _b in timed]), event
        assert spoken_at(event.end / 1000, [b for _a, b in timed]), event
    assert [(e.start, e.end) for e in srt] == [(e.start, e.end) for e in vtt]
    assert srt[-1].end / 1000 == pytest.approx(sum(durations), abs=0.002)
    second_scene = next(e for e in srt if e.plaintext.startswith("A single"))
    assert second_scene.start / 1000 == pytest.approx(durations[0], abs=0.1)


def test_word_timings_are_where_the_narration_makes_sound(tmp_path: Path) -> None:
    """A word's start from espeak-ng's events is within 100 ms of sound in the WAV itself."""
    result = speech.synthesize(text=TEXTS[0], voice="en", out_path=tmp_path / "n.wav")
    samples, rate = read_pcm(tmp_path / "n.wav")
    assert len(result.words) == len(TEXTS[0].split())
    for word in result.words:
        assert rms(samples, rate, word.start, min(result.seconds, word.start + 0.1)) > 300, word


def test_sentence_pauses_are_silent_between_cues(tmp_path: Path) -> None:
    """The gap after a sentence's last word is quieter than the words (timings are not spread evenly)."""
    result = speech.synthesize(text="Stop. Go on now please.", voice="en", out_path=tmp_path / "n.wav")
    samples, rate = read_pcm(tmp_path / "n.wav")
    stop, go = result.words[0], result.words[1]
    assert stop.end == go.start and go.start > 0.2
    assert rms(samples, rate, go.start - 0.05, go.start) < rms(samples, rate, go.start, go.start + 0.15)


@pytest.mark.parametrize("style", ["line", "words"])
def test_burned_in_captions_change_the_caption_band_only(tmp_path: Path, style: str) -> None:
    frames = {}
    for name in ("off", style):
        folder = tmp_path / name
        run_steps(context(folder, TEXTS[:1], aspect="9:16", captions=name))
        frames[name] = frame_at(folder / "video.mp4", 1.0, folder / "frame.png")
    width, height = frame_size("720p", "9:16")
    safe = safe_area("9:16")
    band_bottom = int(height * (1 - safe.bottom))
    band = (0, band_bottom - int(height * CAPTION_BAND), width, band_bottom)
    above = (0, 0, width, band[1] - 10)
    assert region_difference(frames["off"], frames[style], band) > 5
    assert region_difference(frames["off"], frames[style], above) < 1


def test_music_is_quieter_under_the_narration(tmp_path: Path) -> None:
    spoken = speech.synthesize(text=TEXTS[0], voice="en", out_path=tmp_path / "speech.wav")
    quiet = write_silence(tmp_path / "quiet.wav", 3.0)
    for bed in music.BEDS:
        out = music.duck_under(bed=music.bed_path(bed), narration=[spoken.path, quiet], seconds=spoken.seconds + 3,
                               volume=0.5, out_path=tmp_path / f"{bed}.wav", timeout=60)
        samples, rate = read_pcm(out)
        under = rms(samples, rate, 0.5, spoken.seconds - 0.5)
        alone = rms(samples, rate, spoken.seconds + 1.0, spoken.seconds + 2.8)
        assert alone > 100 and under < alone / 2, (bed, under, alone)


def test_music_volume_sets_the_level(tmp_path: Path) -> None:
    quiet = write_silence(tmp_path / "quiet.wav", 2.0)
    levels = []
    for volume in (0.2, 0.8):
        out = music.duck_under(bed=music.bed_path("calm"), narration=[quiet], seconds=2.0, volume=volume,
                               out_path=tmp_path / f"v{volume}.wav", timeout=60)
        samples, rate = read_pcm(out)
        levels.append(rms(samples, rate, 0.2, 1.8))
    assert levels[1] == pytest.approx(levels[0] * 4, rel=0.1)


def test_without_captions_no_script_is_burned_and_files_are_still_made(tmp_path: Path) -> None:
    ctx = context(tmp_path, TEXTS[:1])
    run_steps(ctx, "speech", "captions")
    assert captions_step.ass_path(ctx) is None and not (tmp_path / "work" / captions_step.ASS).exists()
    assert (tmp_path / "captions.srt").stat().st_size > 0 and (tmp_path / "captions.vtt").stat().st_size > 0
