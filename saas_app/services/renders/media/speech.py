"""Text to speech with espeak-ng (the library shipped in the `espeakng-loader` wheel).

The library is driven through ctypes in synchronous mode: samples arrive in a callback
and are written to a 16-bit mono WAV file.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import re
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

import espeakng_loader

# espeak-ng's C API constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1
_EE_OK = 0

DEFAULT_VOICE = "en"
# Voices offered in the UI: espeak-ng language codes with a display name.
VOICES: dict[str, str] = {
    "en": "English",
    "en-us": "English (US)",
    "en-gb-x-rp": "English (UK)",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt-br": "Portuguese (Brazil)",
    "nl": "Dutch",
}

log = logging.getLogger(__name__)
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1


class _Event(ctypes.Structure):
    """espeak_EVENT (speak_lib.h): what the library says happened at a point of the audio."""

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_lock = threading.Lock()
_chunks: list[bytes] = []
_words: list[tuple[int, int]] = []  # (character index in the text, sample the word starts at)


@dataclass(frozen=True)
class WordTiming:
    """One spoken word: its text as written and when it is said, in seconds from the clip's start."""

    text: str
    start: float
    end: float


ENGINE = "espeak-ng"
FALLBACK_ENGINE = "timed-silence"  # when espeak-ng cannot be loaded: silence as long as the text takes to read
_READING_WORDS_PER_MINUTE = 150
_FALLBACK_RATE = 16000


class EngineUnavailable(RuntimeError):
    """espeak-ng's library or data could not be loaded."""


@dataclass(frozen=True)
class SpeechResult:
    """A synthesized WAV file and facts about it."""

    path: Path
    seconds: float
    voice: str
    fell_back: bool
    engine: str = ENGINE
    words: tuple[WordTiming, ...] = ()


def _collect_samples(wav: ctypes._Pointer[ctypes.c_short], numsamples: int,
                     events: ctypes._Pointer[_Event]) -> int:
    if numsamples > 0 and wav:
        _chunks.append(ctypes.string_at(wav, numsamples * 2))
    i = 0
    while events and events[i].type != _EVENT_LIST_TERMINATED:
        if events[i].type == _EVENT_WORD:  # text_position counts characters from 1
            _words.append((events[i].text_position - 1, events[i].sample))
        i += 1
    return 0


def word_timings(text: str, events: list[tuple[int, int]], rate: int, seconds: float) -> tuple[WordTiming, ...]:
    """The words of `text` (runs of non-space) with the time espeak-ng starts each one.

    A word starts at its first word event (espeak-ng may report more than one, e.g. for the
    digits of a number); a word without an event starts with the one before it. Each word ends
    where the next one starts; the last ends with the audio (`seconds`).
    """
    spans = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    starts: dict[int, float] = {}
    for position, sample in events:
        index = next((i for i, (a, b, _w) in enumerate(spans) if position < b), None)
        if index is not None and index not in starts:
            starts[index] = min(seconds, sample / rate)
    timed: list[tuple[str, float]] = []
    last = 0.0
    for i, (_a, _b, word) in enumerate(spans):
        last = max(last, starts.get(i, last))
        timed.append((word, last))
    ends = [start for _w, start in timed[1:]] + [seconds]
    return tuple(WordTiming(word, round(start, 3), round(end, 3))
                 for (word, start), end in zip(timed, ends, strict=True))


_on_samples = _CALLBACK(_collect_samples)  # module-level: the C library keeps calling it


def _engine() -> tuple[ctypes.CDLL, int]:
    try:
        return _load_engine()
    except (OSError, RuntimeError) as exc:
        raise EngineUnavailable(f"espeak-ng is unavailable: {exc}") from exc


@functools.lru_cache(maxsize=1)
def _load_engine() -> tuple[ctypes.CDLL, int]:
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
        ctypes.c_void_p, ctypes.c_void_p,
    ]
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
    if rate <= 0:
        raise RuntimeError("espeak-ng failed to initialise")
    lib.espeak_SetSynthCallback(_on_samples)
    return lib, rate


def voice_or_default(voice: str | None) -> tuple[str, bool]:
    """The voice to use and whether we fell back to the default (unknown voice)."""
    if not voice:
        return DEFAULT_VOICE, False
    if voice in VOICES:
        return voice, False
    return DEFAULT_VOICE, True


def synthesize(*, text: str, voice: str | None, out_path: Path, words_per_minute: int = 170) -> SpeechResult:
    """Speak `text` into a WAV file at `out_path`.

    An unknown voice (or one espeak-ng cannot load) falls back to English and says so. When
    espeak-ng itself cannot be loaded, the second engine writes silence as long as the text
    takes to read (`engine` says which one spoke).

    Returns:
        The WAV path, its real duration in seconds, the voice used, whether it fell back, the engine,
        and when each word of `text` is spoken (from espeak-ng's word events, in seconds).
    """
    try:
        return _speak(text=text, voice=voice, out_path=out_path, words_per_minute=words_per_minute)
    except EngineUnavailable as exc:
        log.error("%s; using %s", exc, FALLBACK_ENGINE)
        words = max(1, len(text.split()))
        pcm = bytes(2 * int(_FALLBACK_RATE * (0.5 + words * 60 / _READING_WORDS_PER_MINUTE)))
        _write_wav(out_path, pcm, _FALLBACK_RATE)
        return SpeechResult(path=out_path, seconds=len(pcm) / 2 / _FALLBACK_RATE, voice="", fell_back=True,
                            engine=FALLBACK_ENGINE)


def _speak(*, text: str, voice: str | None, out_path: Path, words_per_minute: int) -> SpeechResult:
    chosen, fell_back = voice_or_default(voice)
    with _lock:
        lib, rate = _engine()
        if lib.espeak_SetVoiceByName(chosen.encode()) != _EE_OK:
            chosen, fell_back = DEFAULT_VOICE, True
            lib.espeak_SetVoiceByName(DEFAULT_VOICE.encode())
        lib.espeak_SetParameter(_RATE, words_per_minute, 0)
        _chunks.clear()
        _words.clear()
        data = text.encode("utf-8") + b"\0"
        lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        pcm, events = b"".join(_chunks), list(_words)
        _chunks.clear()
    _write_wav(out_path, pcm, rate)
    seconds = len(pcm) / 2 / rate
    return SpeechResult(path=out_path, seconds=seconds, voice=chosen, fell_back=fell_back,
                        words=word_timings(text, events, rate, seconds))


def _write_wav(out_path: Path, pcm: bytes, rate: int) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp.wav")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    tmp.replace(out_path)
