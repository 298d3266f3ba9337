"""The asset library: upload (checked, stored, charged as storage), list, serve and delete a
workspace's images and music. Files live in the object store under ``{tenant_id}/assets/``, so
the tenant's purge removes them with everything else; always scoped to a tenant.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import BaseModel
from sqlmodel import Session, col, func, select

from saas_app.models import Asset
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.assets.checks import AssetKind, CheckedFile, check_upload
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import InvalidInput, NotFound, QuotaExceeded
from saas_app.services.core.storage import Area, Download, get_store
from saas_app.services.renders.files import tenant_prefix
from saas_app.services.renders.input import RenderInput
from saas_app.services.teams.permissions import Action, require
from saas_app.services.usage import ledger, quotas
from saas_app.services.usage.metering import publish_usage, storage_mb
from saas_app.services.usage.metrics import STORAGE


class AssetView(BaseModel):
    """An asset as the API and the pages show it."""

    id: str
    kind: str
    name: str
    media_type: str
    size_bytes: int
    width: int
    height: int
    seconds: float
    focus_x: float
    focus_y: float
    created_at: str


class AssetPage(BaseModel):
    """A page of a workspace's assets, newest first."""

    assets: list[AssetView]
    total: int


def asset_key(tenant_id: str, filename: str) -> str:
    """The storage key of an asset's file."""
    return f"{tenant_prefix(tenant_id)}assets/{filename}"


def view(asset: Asset) -> AssetView:
    """The asset as shown."""
    return AssetView(id=asset.id, kind=asset.kind, name=asset.name, media_type=asset.media_type,
                     size_bytes=asset.size_bytes, width=asset.width, height=asset.height, seconds=asset.seconds,
                     focus_x=asset.focus_x, focus_y=asset.focus_y, created_at=asset.created_at.isoformat())


def _check_room(session: Session, principal: Principal, megabytes: float) -> None:
    summary = quotas.get_usage_summary(session=session, tenant_id=principal.tenant_id, plan_id=principal.plan)
    usage = summary.metrics[STORAGE.name]
    if usage.limit is not None and usage.used + megabytes > usage.limit:
        raise QuotaExceeded("This file needs more storage than your plan has left. Delete files you no longer "
                            "need, or upgrade your plan.", metric=STORAGE.name, used=usage.used,
                            limit=usage.limit, requested=round(megabytes, 3), upgrade_url=quotas.upgrade_url())


def _store(tenant_id: str, asset: Asset, checked: CheckedFile) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / asset.filename
        path.write_bytes(checked.data)
        get_store(Area.RENDERS).put(key=asset_key(tenant_id, asset.filename), source=path,
                                    media_type=checked.media_type, move=True)


def create_asset(*, session: Session, principal: Principal, kind: str, name: str, data: bytes, ctx: RequestContext,
                 focus: tuple[float, float] = (0.5, 0.5)) -> Asset:
    """Check an upload by decoding it, store it and charge its size as storage.

    Args:
        kind: "image" (PNG, JPEG or WebP up to 10 MB) or "music" (MP3 or WAV up to 20 MB).
        name: The file's name as uploaded (shown in the library; cut to 120 characters).
        data: The file's bytes.
        focus: For an image, the point (x, y as fractions 0-1) a crop to another format keeps in view.

    Raises:
        InvalidInput: A file that fails its checks, or a focus outside the image (422).
        QuotaExceeded: Not enough storage left this month (402).
        StorageUnavailable: The store could not take it (503; nothing recorded).
    """
    require(principal, Action.ASSET_MANAGE)
    if not all(0.0 <= f <= 1.0 for f in focus):
        raise InvalidInput("The focal point is given as two fractions between 0 and 1.", field="focus")
    checked = check_upload(kind, data)
    megabytes = storage_mb(len(checked.data))
    _check_room(session, principal, megabytes)
    asset = Asset(tenant_id=principal.tenant_id, user_id=principal.user_id, kind=checked.kind,
                  name=(Path(name).name or "upload")[:120], filename="", media_type=checked.media_type,
                  size_bytes=len(checked.data), width=checked.width, height=checked.height, seconds=checked.seconds,
                  focus_x=focus[0], focus_y=focus[1])
    asset.filename = f"{asset.id}.{checked.extension}"
    _store(principal.tenant_id, asset, checked)  # stored first: a row never names a missing file
    session.add(asset)
    rows = ledger.record_asset_usage(session=session, tenant_id=principal.tenant_id, user_id=principal.user_id,
                                     asset_id=asset.id, action="upload", amounts={STORAGE.name: megabytes})
    record_event(session=session, action="asset.uploaded", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=asset.id)
    session.commit()
    publish_usage(session=session, rows=rows)
    return asset


def get_asset_or_raise(*, session: Session, tenant_id: str, asset_id: str, kind: str | None = None) -> Asset:
    """One asset of this tenant (of this kind, when given); another tenant's is NotFound."""
    asset = session.get(Asset, asset_id) if asset_id and len(asset_id) <= 32 else None
    if asset is None or asset.tenant_id != tenant_id or (kind is not None and asset.kind != kind):
        raise NotFound("We couldn't find that file in your library.")
    return asset


def list_assets(*, session: Session, principal: Principal, kind: str | None = None, limit: int = 50,
                offset: int = 0) -> AssetPage:
    """The caller's workspace's assets (of one kind, when given), newest first.

    Raises:
        Forbidden: The caller's role may not use the library.
    """
    require(principal, Action.ASSET_MANAGE)
    where = [Asset.tenant_id == principal.tenant_id] + ([Asset.kind == kind] if kind else [])
    rows = session.exec(select(Asset).where(*where).order_by(col(Asset.created_at).desc(), col(Asset.id))
                        .offset(offset).limit(limit)).all()
    total = session.exec(select(func.count()).select_from(Asset).where(*where)).one()
    return AssetPage(assets=[view(a) for a in rows], total=int(total))


def get_asset_file_or_raise(*, session: Session, tenant_id: str, asset_id: str) -> Download:
    """How to serve an asset's file (inline).

    Raises:
        NotFound: Not this tenant's asset, or its file is gone.
    """
    asset = get_asset_or_raise(session=session, tenant_id=tenant_id, asset_id=asset_id)
    download = get_store(Area.RENDERS).download(key=asset_key(tenant_id, asset.filename),
                                                media_type=asset.media_type, filename=None)
    if download is None:
        raise NotFound("We couldn't find that file in your library.")
    return download


def delete_asset(*, session: Session, principal: Principal, asset_id: str, ctx: RequestContext) -> None:
    """Delete an asset's file and row and give its storage back (videos already made keep their copy).

    Raises:
        NotFound: Not this tenant's asset.
        StorageUnavailable: The file could not be deleted (nothing recorded; try again).
    """
    require(principal, Action.ASSET_MANAGE)
    asset = get_asset_or_raise(session=session, tenant_id=principal.tenant_id, asset_id=asset_id)
    get_store(Area.RENDERS).delete(key=asset_key(asset.tenant_id, asset.filename))
    rows = ledger.record_asset_usage(session=session, tenant_id=asset.tenant_id, user_id=principal.user_id,
                                     asset_id=asset.id, action="delete",
                                     amounts={STORAGE.name: -storage_mb(asset.size_bytes)})
    session.delete(asset)
    record_event(session=session, action="asset.deleted", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=asset_id)
    session.commit()
    publish_usage(session=session, rows=rows)


def require_assets(*, session: Session, tenant_id: str, image_ids: list[str], music_id: str | None) -> dict[str, Asset]:
    """The assets a render request names, by id, after checking each is this tenant's and of its kind.

    Raises:
        InvalidInput: An image or music id that is not in the workspace's library (422).
    """
    found: dict[str, Asset] = {}
    for asset_id, kind in [*[(i, AssetKind.IMAGE) for i in image_ids], *([(music_id, AssetKind.MUSIC)]
                                                                      if music_id else [])]:
        try:
            found[asset_id] = get_asset_or_raise(session=session, tenant_id=tenant_id, asset_id=asset_id, kind=kind)
        except NotFound as exc:
            raise InvalidInput(f"The {kind} '{asset_id}' is not in your library; upload it first.",
                               field="music_asset" if kind == AssetKind.MUSIC else "scenes") from exc
    return found


def resolve_render_assets(*, session: Session, tenant_id: str,
                          request: RenderInput) -> tuple[list[dict[str, object]], dict[str, object]]:
    """A render request's scenes and options as stored on the render, with the storage key (and, for an
    image, the focal point) of each asset it uses, so the steps need no database.

    Raises:
        InvalidInput: An asset id that is not this workspace's image or music (422).
    """
    image_ids = [s.image for s in request.scenes if s.image]
    found = require_assets(session=session, tenant_id=tenant_id, image_ids=image_ids, music_id=request.music_asset)
    scenes: list[dict[str, object]] = []
    for scene in request.scenes:
        row = scene.model_dump()
        if scene.image:
            image = found[scene.image]
            row.update(image_key=asset_key(tenant_id, image.filename), focus=[image.focus_x, image.focus_y])
        scenes.append(row)
    options: dict[str, object] = dict(request.options)
    if request.music_asset:
        options["music_asset"] = request.music_asset  # to fill the form again (Edit & re-render)
        options["music_key"] = asset_key(tenant_id, found[request.music_asset].filename)
    return scenes, options
