"""The create page's format, captions, music and per-scene image choices, uploads to the asset
library, and the first-frame preview: a state mixin `CreateState` takes in."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import reflex as rx

from saas_app.services.assets import library
from saas_app.services.assets.checks import MAX_IMAGE_BYTES, MAX_MUSIC_BYTES, AssetKind
from saas_app.services.core.errors import AppError
from saas_app.services.renders import preview
from saas_app.services.renders.formats import ASPECT_LABELS, Aspect
from saas_app.services.renders.input import RenderInput
from saas_app.services.renders.media.captions import CAPTION_LABELS, CaptionStyle
from saas_app.services.renders.media.music import BEDS, NONE, UPLOADED

if TYPE_CHECKING:
    from saas_app.services.account.audit import RequestContext
    from saas_app.services.auth.sessions import Principal

IMAGE_UPLOAD_ID = "image-upload"
MUSIC_UPLOAD_ID = "music-upload"
_ASSET = "asset:"  # prefix of a music choice that is an uploaded track


def music_choice(music: str, music_asset: str | None) -> str:
    """The music picker's value for a render's stored choice: a bed, "none", or "asset:<id>" for a track."""
    if music_asset:
        return _ASSET + music_asset
    return NONE if music == UPLOADED else music


def _choice(asset: library.AssetView) -> dict[str, str]:
    return {"id": asset.id, "label": asset.name}


class RenderOptions(rx.State, mixin=True):
    """Display values only: the service checks every choice again on submit."""

    aspect: str = Aspect.LANDSCAPE.value
    captions: str = CaptionStyle.OFF.value
    music: str = NONE
    music_volume: int = 30
    image_choices: list[dict[str, str]] = []
    music_choices: list[dict[str, str]] = []
    preview_src: str = ""
    options_message: str = ""
    aspect_options: list[dict[str, str]] = [{"id": a.value, "label": label} for a, label in ASPECT_LABELS.items()]
    caption_options: list[dict[str, str]] = [{"id": c.value, "label": label} for c, label in CAPTION_LABELS.items()]

    if TYPE_CHECKING:  # from the state this mixes into (`CreateState`)
        scenes: list[dict[str, str]]
        topic: str
        template: str
        voice: str
        resolution: str

        async def _resolve_principal(self) -> Principal | None: ...
        @staticmethod
        async def _call(service: Any, /, **kwargs: Any) -> Any: ...
        def _request_context(self) -> RequestContext: ...
        def _request_scenes(self) -> list[dict]: ...

    def _render_options(self) -> dict[str, Any]:
        """The request fields these choices make (see `RenderInput`)."""
        uploaded = self.music.startswith(_ASSET)
        return {"aspect": self.aspect, "captions": self.captions, "music": NONE if uploaded else self.music,
                "music_asset": self.music.removeprefix(_ASSET) if uploaded else None,
                "music_volume": self.music_volume}

    async def _load_choices(self, principal: Principal) -> None:
        images = await self._call(library.list_assets, principal=principal, kind=AssetKind.IMAGE)
        tracks = await self._call(library.list_assets, principal=principal, kind=AssetKind.MUSIC)
        self.image_choices = [{"id": "", "label": "Title card (no image)"}, *[_choice(a) for a in images.assets]]
        self.music_choices = [{"id": NONE, "label": "No music"},
                              *[{"id": b.id, "label": b.name} for b in BEDS.values()],
                              *[{"id": _ASSET + a.id, "label": f"Yours: {a.name}"} for a in tracks.assets]]

    @rx.event
    async def load_choices(self):
        """On mount: the workspace's images and music to choose from."""
        principal = await self._resolve_principal()
        if principal is not None:
            await self._load_choices(principal)

    @rx.event
    def set_render_option(self, name: str, value: str):
        """Format, captions or music picked, or the music volume moved."""
        if name in ("aspect", "captions", "music"):
            setattr(self, name, value)
        elif name == "music_volume" and value.isdigit():
            self.music_volume = max(0, min(100, int(value)))
        self.preview_src = ""

    @rx.event
    def choose_scene_image(self, index: int, asset_id: str):
        """A scene's image picked from the library ("" = the title card)."""
        if 0 <= index < len(self.scenes):
            self.scenes[index] = {**self.scenes[index], "image": asset_id}
            self.preview_src = ""

    async def _upload(self, files: list[rx.UploadFile], kind: AssetKind, limit: int) -> str | None:
        principal = await self._resolve_principal()
        if principal is None or not files:
            return None
        data = await files[0].read(limit + 1)
        try:
            asset = await self._call(library.create_asset, principal=principal, kind=kind,
                                     name=files[0].filename or "upload", data=data, ctx=self._request_context())
        except AppError as exc:
            self.options_message = exc.message
            return None
        self.options_message = f"Added {asset.name} to your library."
        await self._load_choices(principal)
        return str(asset.id)

    @rx.event
    async def upload_image(self, files: list[rx.UploadFile]):
        """An image dropped or chosen: checked and kept in the library, and used for the first scene without one."""
        asset_id = await self._upload(files, AssetKind.IMAGE, MAX_IMAGE_BYTES)
        if asset_id:
            index = next((i for i, s in enumerate(self.scenes) if not s.get("image")), None)
            if index is not None:
                self.scenes[index] = {**self.scenes[index], "image": asset_id}
        self.preview_src = ""

    @rx.event
    async def upload_music(self, files: list[rx.UploadFile]):
        """A music file dropped or chosen: checked, kept in the library and picked."""
        asset_id = await self._upload(files, AssetKind.MUSIC, MAX_MUSIC_BYTES)
        if asset_id:
            self.music = _ASSET + asset_id

    @rx.event
    async def show_preview(self):
        """Draw the first frame as it will look."""
        principal = await self._resolve_principal()
        if principal is None:
            return
        try:
            request = RenderInput(topic=self.topic or "Your topic", scenes=self._request_scenes(),
                                  template=self.template, voice=self.voice, resolution=self.resolution,
                                  **self._render_options())
            png = await self._call(preview.preview_first_frame, tenant_id=principal.tenant_id, request=request)
        except AppError as exc:
            self.options_message = exc.message
            return
        except ValueError:
            self.options_message = "Write the first scene's text to see a preview."
            return
        self.options_message = ""
        self.preview_src = "data:image/png;base64," + base64.b64encode(png).decode()
