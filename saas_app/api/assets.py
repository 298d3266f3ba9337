"""Asset library routes: upload an image or music file (multipart), list, fetch and delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response

from saas_app import routes
from saas_app.api.deps import Context, CurrentPrincipal, DbSession
from saas_app.api.errors import AUTH, BODY, errors
from saas_app.api.files import FileAnswer, file_responses, send_download
from saas_app.api.schemas import Deleted
from saas_app.services.assets import library
from saas_app.services.assets.checks import MAX_IMAGE_BYTES, MAX_MUSIC_BYTES, AssetKind
from saas_app.services.assets.library import AssetPage, AssetView

router = APIRouter(tags=["assets"])
_CHUNK = 1024 * 1024


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    """The upload's bytes, reading at most one byte past `limit` (the check refuses a larger file)."""
    parts, size = [], 0
    while size <= limit:
        chunk = await upload.read(_CHUNK)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)[:limit + 1]


@router.post(routes.API_ASSETS, response_model=AssetView, status_code=201, responses=errors(*AUTH, *BODY, 402, 503))
async def upload(
    principal: CurrentPrincipal, session: DbSession, ctx: Context,
    file: Annotated[UploadFile, File(description="PNG, JPEG or WebP up to 10 MB; MP3 or WAV up to 20 MB")],
    kind: Annotated[AssetKind, Form()] = AssetKind.IMAGE,
    focus_x: Annotated[float, Form(ge=0, le=1, description="The image's focal point, from the left")] = 0.5,
    focus_y: Annotated[float, Form(ge=0, le=1, description="The image's focal point, from the top")] = 0.5,
) -> AssetView:
    """Add an image or a music track to the workspace's library (checked by decoding it; counted as storage)."""
    data = await _read_limited(file, MAX_MUSIC_BYTES if kind == AssetKind.MUSIC else MAX_IMAGE_BYTES)
    asset = library.create_asset(session=session, principal=principal, kind=kind, name=file.filename or "upload",
                                 data=data, ctx=ctx, focus=(focus_x, focus_y))
    return library.view(asset)


@router.get(routes.API_ASSETS, response_model=AssetPage, responses=errors(*AUTH, 422))
def list_assets(
    principal: CurrentPrincipal, session: DbSession, kind: AssetKind | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> AssetPage:
    """The workspace's images and music, newest first."""
    return library.list_assets(session=session, principal=principal, kind=kind, limit=limit, offset=offset)


@router.get(routes.API_ASSET_FILE, response_class=FileAnswer,
            responses=file_responses("application/octet-stream", *AUTH, 404, 422))
def get_file(asset_id: str, principal: CurrentPrincipal, session: DbSession) -> Response:
    """The asset's file as stored (an image without its metadata)."""
    return send_download(library.get_asset_file_or_raise(session=session, tenant_id=principal.tenant_id,
                                                         asset_id=asset_id))


@router.delete(routes.API_ASSET, response_model=Deleted, responses=errors(*AUTH, 404, 422, 503))
def delete(asset_id: str, principal: CurrentPrincipal, session: DbSession, ctx: Context) -> Deleted:
    """Delete an asset and give its storage back (videos already made keep their copy)."""
    library.delete_asset(session=session, principal=principal, asset_id=asset_id, ctx=ctx)
    return Deleted(id=asset_id)
