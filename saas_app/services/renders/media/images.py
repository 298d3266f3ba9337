"""Scene images (title cards) drawn with Pillow from a visual template, in any of the formats
of `renders/formats.py`: the layout keeps to the format's safe area and leaves the caption band
(just above the bottom safe margin) free."""

from __future__ import annotations

import functools
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from saas_app.services.renders.formats import DEFAULT_ASPECT, SHORT_SIDE, frame_size, safe_area

RESOLUTIONS = SHORT_SIDE  # the resolutions offered, by name

CAPTION_BAND = 0.16  # the frame's height kept free for captions, above the bottom safe margin


@dataclass(frozen=True)
class Template:
    """A visual look: background gradient, text colours and accent."""

    id: str
    name: str
    description: str
    top: tuple[int, int, int]
    bottom: tuple[int, int, int]
    title_color: tuple[int, int, int]
    text_color: tuple[int, int, int]
    accent: tuple[int, int, int]
    premium: bool = False


TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in [
        Template("aurora", "Aurora", "Deep violet gradient with bright text.",
                 (46, 16, 101), (109, 40, 217), (255, 255, 255), (237, 233, 254), (250, 204, 21)),
        Template("paper", "Paper", "Warm off-white page with ink-dark type.",
                 (253, 250, 243), (241, 236, 222), (31, 31, 46), (55, 65, 81), (220, 38, 38)),
        Template("noir", "Noir", "High-contrast black with a teal accent.",
                 (8, 8, 12), (30, 30, 40), (255, 255, 255), (209, 213, 219), (45, 212, 191)),
        Template("sunset", "Sunset", "Orange-to-magenta gradient (Pro).",
                 (249, 115, 22), (190, 24, 93), (255, 255, 255), (255, 237, 213), (254, 240, 138),
                 premium=True),
        Template("ocean", "Ocean", "Blue depths with soft white type (Pro).",
                 (12, 74, 110), (8, 47, 73), (255, 255, 255), (224, 242, 254), (56, 189, 248), premium=True),
    ]
}
DEFAULT_TEMPLATE = "aurora"


def _gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    width, height = size
    column = Image.new("RGB", (1, height))
    for y in range(height):
        mix = y / max(1, height - 1)
        column.putpixel((0, y), tuple(int(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)))
    return column.resize(size)


# Fonts with wide script coverage (accents, Greek, Cyrillic, Hebrew, Arabic letters), found in the system's
# font folders; Pillow's own default font draws a box for most letters outside basic Latin.
TEXT_FONTS = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf")


@functools.cache
def text_font(size: int) -> ImageFont.FreeTypeFont:
    """The font drawn text uses, at `size` pixels: the first of `TEXT_FONTS` installed, else Pillow's default."""
    for name in TEXT_FONTS:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    font = ImageFont.load_default(size=size)
    assert isinstance(font, ImageFont.FreeTypeFont)
    return font


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    avg = max(1.0, draw.textlength("abcdefghijklmnopqrstuvwxyz", font=font) / 26)
    width_chars = max(10, int(max_width / avg))
    lines = textwrap.wrap(text, width=width_chars) or [""]
    while len(lines) > 1 and any(draw.textlength(line, font=font) > max_width for line in lines):
        width_chars -= 2
        lines = textwrap.wrap(text, width=width_chars)
    return lines


def fit_cover(source: Path, size: tuple[int, int], focus: tuple[float, float] = (0.5, 0.5)) -> Image.Image:
    """The image scaled to cover `size` and cropped around `focus` (x, y as fractions of its width
    and height), so the focal point stays in view whatever the format."""
    width, height = size
    with Image.open(source) as opened:
        picture = opened.convert("RGB")
    scale = max(width / picture.width, height / picture.height)
    scaled = picture.resize((max(width, round(picture.width * scale)), max(height, round(picture.height * scale))),
                            Image.Resampling.LANCZOS)
    left = min(max(0, round(scaled.width * focus[0] - width / 2)), scaled.width - width)
    top = min(max(0, round(scaled.height * focus[1] - height / 2)), scaled.height - height)
    return scaled.crop((left, top, left + width, top + height))


_PHOTO_SHADE = 0.3  # darkens an uploaded image under the text, so white text reads on any photo


def render_scene_image(
    *, topic: str, text: str, index: int, total: int, template_id: str, resolution: str, out_path: Path,
    aspect: str = DEFAULT_ASPECT, background: Path | None = None, focus: tuple[float, float] = (0.5, 0.5),
) -> Path:
    """Draw one scene: topic as a header, the scene text wrapped and centred, a progress mark,
    all inside the format's safe area and above its caption band, on the template's gradient or
    on `background` (an uploaded image, fitted around `focus` and shaded).

    Returns:
        The PNG path (written atomically).
    """
    template = TEMPLATES.get(template_id, TEMPLATES[DEFAULT_TEMPLATE])
    width, height = frame_size(resolution, aspect)
    safe = safe_area(aspect)
    scale = min(width, height) / 720
    if background is None:
        image = _gradient((width, height), template.top, template.bottom)
    else:
        image = Image.blend(fit_cover(background, (width, height), focus), Image.new("RGB", (width, height)),
                            _PHOTO_SHADE)
        template = TEMPLATES["noir"]  # light text on the shaded photo
    draw = ImageDraw.Draw(image)
    left, top = int(width * safe.left), int(height * safe.top)
    right, bottom = width - int(width * safe.right), height - int(height * (safe.bottom + CAPTION_BAND))
    title_font, body_font = text_font(int(34 * scale)), text_font(int(52 * scale))
    small_font = text_font(int(24 * scale))
    draw.rectangle([left, top, left + int(90 * scale), top + int(8 * scale)], fill=template.accent)
    header = _wrap(draw, topic, title_font, right - left - int(90 * scale))[:2]
    for n, line in enumerate(header):
        draw.text((left, top + int((24 + 42 * n) * scale)), line, font=title_font, fill=template.title_color)
    body_top = top + int((24 + 42 * len(header) + 30) * scale)
    line_height = int(body_font.size * 1.3)
    max_lines = max(1, (bottom - body_top) // line_height)
    lines = _wrap(draw, text, body_font, right - left)[:max_lines]
    y = body_top + (bottom - body_top - line_height * len(lines)) // 2
    for line in lines:
        draw.text((left, y), line, font=body_font, fill=template.text_color)
        y += line_height
    draw.text((right - int(70 * scale), top), f"{index + 1} / {total}", font=small_font, fill=template.text_color)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp.png")
    image.save(tmp, format="PNG", compress_level=1)
    tmp.replace(out_path)
    return out_path


def make_thumbnail(*, source: Path, out_path: Path, width: int = 480) -> Path:
    """A JPEG thumbnail of a scene image."""
    with Image.open(source) as image:
        thumb = image.convert("RGB")
        thumb.thumbnail((width, width))  # the longer side is `width`, whatever the format
        tmp = out_path.with_suffix(".tmp.jpg")
        thumb.save(tmp, format="JPEG", quality=85)
    tmp.replace(out_path)
    return out_path
