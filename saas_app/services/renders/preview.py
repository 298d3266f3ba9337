"""A preview of a render's first frame, drawn the way the images step will draw it (format, template,
the scene's uploaded image), with a sample caption line in the caption band when captions are on.
Nothing is stored or charged."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw
from sqlmodel import Session

from saas_app.services.assets.library import resolve_render_assets
from saas_app.services.core.storage import Area, get_store
from saas_app.services.renders.formats import frame_size, safe_area
from saas_app.services.renders.input import RenderInput
from saas_app.services.renders.media import images
from saas_app.services.renders.media.captions import CaptionStyle

PREVIEW_LONG_SIDE = 640  # pixels: enough to judge the layout, small enough to send over the websocket


def preview_first_frame(*, session: Session, tenant_id: str, request: RenderInput) -> bytes:
    """The first frame as a PNG (its longer side `PREVIEW_LONG_SIDE` pixels).

    Raises:
        InvalidInput: The first scene's image is not in the workspace's library (422).
    """
    scenes, _options = resolve_render_assets(session=session, tenant_id=tenant_id, request=request)
    first = scenes[0]
    with tempfile.TemporaryDirectory() as folder:
        background = None
        if first.get("image_key"):
            background = Path(folder) / "upload"
            with get_store(Area.RENDERS).open(key=str(first["image_key"])) as source, background.open("wb") as target:
                shutil.copyfileobj(source, target)
        focus = first.get("focus") or [0.5, 0.5]
        assert isinstance(focus, list)
        path = images.render_scene_image(
            topic=request.topic, text=request.scenes[0].text, index=0, total=len(request.scenes),
            template_id=request.template, resolution="720p", aspect=request.aspect, out_path=Path(folder) / "f.png",
            background=background, focus=(float(focus[0]), float(focus[1])))
        with Image.open(path) as frame:
            picture = frame.convert("RGB")
    if request.captions != CaptionStyle.OFF:
        _sample_caption(picture, request)
    picture.thumbnail((PREVIEW_LONG_SIDE, PREVIEW_LONG_SIDE))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _sample_caption(picture: Image.Image, request: RenderInput) -> None:
    """Draw the first words of the narration where the captions will be (white on a dark box)."""
    width, height = frame_size("720p", request.aspect)
    safe = safe_area(request.aspect)
    words = request.scenes[0].spoken.split()[:4]
    font = images.text_font(round(min(width, height) * 0.055))
    draw = ImageDraw.Draw(picture)
    text = " ".join(words)
    box = draw.textbbox((0, 0), text, font=font)
    x = (width - (box[2] - box[0])) // 2
    y = round(height * (1 - safe.bottom - images.CAPTION_BAND / 2)) - (box[3] - box[1]) // 2
    pad = 8
    draw.rectangle((x - pad, y - pad, x + box[2] - box[0] + pad, y + box[3] - box[1] + 2 * pad), fill=(20, 20, 20))
    draw.text((x, y), text, font=font, fill=(255, 255, 255))
    if request.captions == CaptionStyle.WORDS and words:
        draw.text((x, y), words[0], font=font, fill=(250, 204, 21))
