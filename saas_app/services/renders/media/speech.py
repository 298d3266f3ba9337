"""Text to speech with espeak-ng (the library shipped in the `espeakng-loader` wheel).

The library is driven through ctypes in synchronous mode: samples arrive in a callback
and are written to a 16-bit mono WAV file.
"""

from __future__ import annotations

import ctypes
import functools
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

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_lock = threading.Lock()
_chunks: list[bytes] = []


@dataclass(frozen=True)
class SpeechResult:
    """A synthesized WAV file and facts about it."""

    path: Path
    seconds: float
    voice: str
    fell_back: bool


def _collect_samples(wav: ctypes._Pointer[ctypes.c_short], numsamples: int, _events: int | None) -> int:
    if numsamples > 0 and wav:
        _chunks.append(ctypes.string_at(wav, numsamples * 2))
    return 0


_on_samples = _CALLBACK(_collect_samples)  # module-level: the C library keeps calling it


@functools.lru_cache(maxsize=1)
def _engine() -> tuple[ctypes.CDLL, int]:
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

    An unknown voice (or one espeak-ng cannot load) falls back to English and says so.

    Returns:
        The WAV path, its real duration in seconds, the voice used and whether it fell back.
    """
    chosen, fell_back = voice_or_default(voice)
    with _lock:
        lib, rate = _engine()
        if lib.espeak_SetVoiceByName(chosen.encode()) != _EE_OK:
            chosen, fell_back = DEFAULT_VOICE, True
            lib.espeak_SetVoiceByName(DEFAULT_VOICE.encode())
        lib.espeak_SetParameter(_RATE, words_per_minute, 0)
        _chunks.clear()
        data = text.encode("utf-8") + b"\0"
        lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        pcm = b"".join(_chunks)
        _chunks.clear()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp.wav")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    tmp.replace(out_path)
    return SpeechResult(path=out_path, seconds=len(pcm) / 2 / rate, voice=chosen, fell_back=fell_back)
