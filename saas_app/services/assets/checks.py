"""Checks an uploaded file by decoding it: images with Pillow (PNG, JPEG or WebP up to 10 MB,
re-encoded from their pixels so EXIF and every other metadata is gone, turned upright first),
music with ffmpeg (MP3 or WAV up to 20 MB, decoded to the end). A file that fails answers
`InvalidInput` (422) with a plain message, and nothing is stored.
"""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from saas_app.services.core.errors import InvalidInput
from saas_app.services.renders.media.video import ffmpeg_exe

MB = 1024 * 1024
MAX_IMAGE_BYTES = 10 * MB
MAX_MUSIC_BYTES = 20 * MB
MAX_IMAGE_PIXELS = 40_000_000  # 40 MP: larger than any camera's photo, refuses decompression bombs
_IMAGE_FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp")}
_MUSIC_FORMATS = {"mp3": ("audio/mpeg", "mp3"), "wav": ("audio/wav", "wav")}
_BAD_IMAGE = "This file could not be read as a PNG, JPEG or WebP image. Please upload one of those."
_BAD_MUSIC = "This file could not be read as MP3 or WAV audio. Please upload one of those."


class AssetKind(StrEnum):
    """What an asset is used as."""

    IMAGE = "image"
    MUSIC = "music"


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed its checks: the bytes to store and facts about them."""

    kind: AssetKind
    data: bytes
    media_type: str
    extension: str
    width: int = 0
    height: int = 0
    seconds: float = 0.0


def _too_large(limit: int, what: str) -> InvalidInput:
    return InvalidInput(f"This {what} is larger than {limit // MB} MB. Please upload a smaller file.", field="file")


def check_image(data: bytes) -> CheckedFile:
    """Decode an image and re-encode its pixels (upright, without EXIF or other metadata).

    Raises:
        InvalidInput: Too large, not PNG/JPEG/WebP, too many pixels, or not decodable.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_large(MAX_IMAGE_BYTES, "image")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.format not in _IMAGE_FORMATS:
                raise InvalidInput(_BAD_IMAGE, field="file")
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise InvalidInput("This image has too many pixels (over 40 megapixels).", field="file")
            fmt = opened.format
            upright = ImageOps.exif_transpose(opened) or opened
            pixels = upright.convert("RGBA" if "A" in upright.getbands() and fmt != "JPEG" else "RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(_BAD_IMAGE, field="file") from exc
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())  # pixels only: no metadata at all
    out = io.BytesIO()
    options = {"JPEG": {"quality": 92}, "WEBP": {"quality": 90}, "PNG": {"compress_level": 6}}[fmt]
    clean.save(out, format=fmt, **options)
    media_type, extension = _IMAGE_FORMATS[fmt]
    return CheckedFile(AssetKind.IMAGE, out.getvalue(), media_type, extension, clean.width, clean.height)


def check_music(data: bytes) -> CheckedFile:
    """Decode a music file to its end with ffmpeg.

    Raises:
        InvalidInput: Too large, not MP3/WAV, without audio, or not decodable to the end.
    """
    if len(data) > MAX_MUSIC_BYTES:
        raise _too_large(MAX_MUSIC_BYTES, "music file")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-xerror", "-i", str(path),
                                 "-map", "0:a:0", "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    found = re.search(r"Input #0, (\w+),", result.stderr)
    if result.returncode != 0 or found is None or found[1] not in _MUSIC_FORMATS:
        raise InvalidInput(_BAD_MUSIC, field="file")
    times = re.findall(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)", result.stderr)
    seconds = int(times[-1][0]) * 3600 + int(times[-1][1]) * 60 + float(times[-1][2]) if times else 0.0
    if seconds < 1.0:
        raise InvalidInput("This audio is shorter than a second; please upload a longer track.", field="file")
    media_type, extension = _MUSIC_FORMATS[found[1]]
    return CheckedFile(AssetKind.MUSIC, data, media_type, extension, seconds=round(seconds, 3))


def check_upload(kind: str, data: bytes) -> CheckedFile:
    """Check an upload as the kind of asset it is meant to be.

    Raises:
        InvalidInput: An unknown kind, or a file that fails its kind's checks.
    """
    if kind == AssetKind.IMAGE:
        return check_image(data)
    if kind == AssetKind.MUSIC:
        return check_music(data)
    raise InvalidInput("An asset is an image or music.", field="kind")
