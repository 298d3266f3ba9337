"""Captions from the narration's word timings: cues, their `.srt` and `.vtt` files, and the ASS
script ffmpeg's `ass` filter (libass) burns into the video (a bottom line, or the same line
with the word being spoken highlighted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from saas_app.services.renders.formats import Aspect, frame_size, safe_area
from saas_app.services.renders.media.images import CAPTION_BAND
from saas_app.services.renders.media.speech import WordTiming


class CaptionStyle(StrEnum):
    """How captions are burned into the video (the .srt and .vtt files are made either way)."""

    OFF = "off"
    LINE = "line"
    WORDS = "words"


CAPTION_LABELS: dict[CaptionStyle, str] = {
    CaptionStyle.OFF: "Off (files only)",
    CaptionStyle.LINE: "Bottom line",
    CaptionStyle.WORDS: "Word-by-word highlight",
}
_LINE_CHARS = {Aspect.LANDSCAPE: 42, Aspect.SQUARE: 32, Aspect.PORTRAIT: 24}
_SENTENCE_END = (".", "!", "?", ":", ";")


@dataclass(frozen=True)
class Cue:
    """One caption: its words (timed from the start of the video) shown from `start` to `end` seconds."""

    words: tuple[WordTiming, ...]

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def build_cues(scene_words: Sequence[Sequence[WordTiming]], durations: Sequence[float], aspect: str) -> list[Cue]:
    """Group each scene's words into one-line cues, timed on the whole video.

    Args:
        scene_words: Per scene, its words with times from the scene's start (the speech step's).
        durations: Per scene, its narration's length in seconds (scenes follow one another).
        aspect: The video's aspect ratio (a narrower frame takes fewer characters a line).

    Returns:
        Cues in order; a cue ends at a sentence end, before a line would pass the width, and
        never spans two scenes.
    """
    width, cues, offset = _LINE_CHARS[Aspect(aspect)], [], 0.0
    for words, seconds in zip(scene_words, durations, strict=True):
        line: list[WordTiming] = []
        for word in words:
            shifted = WordTiming(word.text, round(word.start + offset, 3), round(word.end + offset, 3))
            if line and len(" ".join(w.text for w in [*line, shifted])) > width:
                cues.append(Cue(tuple(line)))
                line = []
            line.append(shifted)
            if word.text.endswith(_SENTENCE_END):
                cues.append(Cue(tuple(line)))
                line = []
        if line:
            cues.append(Cue(tuple(line)))
        offset += seconds
    return cues


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{separator}{rest % 1000:03d}"


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`."""
    blocks = [f"{n}\n{_clock(c.start, ',')} --> {_clock(c.end, ',')}\n{c.text}\n" for n, c in enumerate(cues, 1)]
    return "\n".join(blocks)


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT: a `WEBVTT` header, then cues `HH:MM:SS.mmm --> HH:MM:SS.mmm`."""
    blocks = [f"{_clock(c.start, '.')} --> {_clock(c.end, '.')}\n{_vtt_text(c.text)}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)


def _vtt_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ass_clock(seconds: float) -> str:
    centis = round(seconds * 100)
    return f"{centis // 360000}:{centis // 6000 % 60:02d}:{centis // 100 % 60:02d}.{centis % 100:02d}"


def _ass_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("{", "(").replace("}", ")")


_HIGHLIGHT = "{\\c&H0015CCFA&}"  # ASS colours are &HBBGGRR: amber (#facc15)


def to_ass(cues: Sequence[Cue], *, style: str, resolution: str, aspect: str) -> str:
    """An ASS script that draws the cues as one bottom line in the caption band (white on a dark box),
    or, for `words`, one event per word with the spoken word in amber."""
    width, height = frame_size(resolution, aspect)
    safe = safe_area(aspect)
    size = round(min(width, height) * 0.055)
    margin_v = round(height * safe.bottom + height * CAPTION_BAND / 2 - size / 2)
    header = (
        "[Script Info]\nScriptType: v4.00+\nWrapStyle: 0\nScaledBorderAndShadow: yes\n"
        f"PlayResX: {width}\nPlayResY: {height}\n\n[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
        "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
        "Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Caption,DejaVu Sans,{size},&H00FFFFFF,&H00FFFFFF,&H99000000,&H99000000,1,0,0,0,100,100,0,0,"
        f"3,{max(2, size // 5)},0,2,{round(width * safe.left)},{round(width * safe.right)},{margin_v},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    events: list[str] = []
    for cue in cues:
        if style == CaptionStyle.WORDS:
            for i, word in enumerate(cue.words):
                text = " ".join(f"{_HIGHLIGHT}{_ass_text(w.text)}{{\\r}}" if j == i else _ass_text(w.text)
                                for j, w in enumerate(cue.words))
                events.append(_dialogue(word.start, word.end, text))
        else:
            events.append(_dialogue(cue.start, cue.end, _ass_text(cue.text)))
    return header + "".join(events)


def _dialogue(start: float, end: float, text: str) -> str:
    return f"Dialogue: 0,{_ass_clock(start)},{_ass_clock(end)},Caption,,0,0,0,,{text}\n"
