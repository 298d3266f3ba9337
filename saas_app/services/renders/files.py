"""A render's files: the folder a worker makes them in, and the ones its steps keep (as the
registered steps declare), which live in the object store (`services/core/storage.py`).

A worker writes every file of a render into the render's folder on its own disk
(`render_dir`); when a step that keeps files is done they are stored under
``{tenant_id}/renders/{render_id}/{filename}``. With the local backend that folder is where
the store keeps them anyway; with S3 the folder is scratch space, emptied when the render ends.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlmodel import Session, col, select

from saas_app.models import Render
from saas_app.services.core.errors import NotFound
from saas_app.services.core.storage import Area, Download, get_store
from saas_app.services.renders.status import RenderStatus
from saas_app.services.renders.steps.base import KeptFile
from saas_app.services.renders.steps.registry import find_kept_file, kept_files
from saas_app.settings import get_settings


def render_dir(tenant_id: str, render_id: str) -> Path:
    """Where a worker makes a render's files (and, with the local backend, where the kept ones stay)."""
    return Path(get_settings().STORAGE_DIR) / tenant_id / "renders" / render_id


def render_key(tenant_id: str, render_id: str, filename: str) -> str:
    """The storage key of a render's kept file."""
    return f"{render_prefix(tenant_id, render_id)}{filename}"


def render_prefix(tenant_id: str, render_id: str) -> str:
    """The storage folder of a render's kept files."""
    return f"{tenant_prefix(tenant_id)}renders/{render_id}/"


def tenant_prefix(tenant_id: str) -> str:
    """The storage folder of everything a tenant's renders keep."""
    return f"{tenant_id}/"


def kept_bytes(folder: Path, kept: tuple[KeptFile, ...] | list[KeptFile] | None = None) -> int:
    """The size of the kept files present in a render's folder (`kept`: these only; default all)."""
    total = 0
    for file in kept_files() if kept is None else kept:
        path = folder / file.filename
        if path.is_file():
            total += path.stat().st_size
    return total


def store_kept_files(*, tenant_id: str, render_id: str, kept: tuple[KeptFile, ...]) -> None:
    """Store the kept files a step left in the render's folder (each one it made).

    Raises:
        StorageUnavailable: The store could not take them (the step is retried).
    """
    store, folder = get_store(Area.RENDERS), render_dir(tenant_id, render_id)
    for file in kept:
        if (folder / file.filename).is_file():
            store.put(key=render_key(tenant_id, render_id, file.filename), source=folder / file.filename,
                      media_type=file.media_type)


def delete_kept_files(*, tenant_id: str, render_id: str, kept: tuple[KeptFile, ...]) -> None:
    """Delete these kept files of a render from the store and its folder (what a step made for a
    render that ended before the step could be charged).

    Raises:
        StorageUnavailable: The store could not delete them.
    """
    store, folder = get_store(Area.RENDERS), render_dir(tenant_id, render_id)
    for file in kept:
        store.delete(key=render_key(tenant_id, render_id, file.filename))
        (folder / file.filename).unlink(missing_ok=True)


def kept_files_stored(*, tenant_id: str, render_id: str, kept: tuple[KeptFile, ...]) -> bool:
    """Whether every one of these kept files is in the store (a retried job skips a step whose are)."""
    store = get_store(Area.RENDERS)
    return all(store.size(key=render_key(tenant_id, render_id, file.filename)) is not None for file in kept)


def stored_bytes(*, tenant_id: str, render_id: str) -> int:
    """The size of every kept file of a render in the store, in bytes."""
    store = get_store(Area.RENDERS)
    sizes = (store.size(key=render_key(tenant_id, render_id, file.filename)) for file in kept_files())
    return sum(size or 0 for size in sizes)


def drop_work_files(*, tenant_id: str, render_id: str) -> None:
    """Remove what an ended render left on this machine but its stored files (work files, partials)."""
    folder = render_dir(tenant_id, render_id)
    if not folder.is_dir():
        return
    if get_store(Area.RENDERS).local_root is None:  # the kept files are stored elsewhere
        shutil.rmtree(folder, ignore_errors=True)
        return
    keep = {file.filename for file in kept_files()}
    for entry in folder.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def drop_abandoned_work_folders(*, session: Session) -> int:
    """With object storage: remove this machine's folders of renders that are no longer running here
    or anywhere (a worker killed mid-render leaves its work files behind; the render finished elsewhere).

    Returns:
        How many folders were removed (always 0 with the local backend: there the folders keep the files).
    """
    if get_store(Area.RENDERS).local_root is not None:
        return 0
    folders = {folder.name: folder for folder in Path(get_settings().STORAGE_DIR).glob("*/renders/*")
               if folder.is_dir()}
    if not folders:
        return 0
    running = set(session.exec(select(Render.id).where(col(Render.id).in_(list(folders)),
                                                      col(Render.status).in_(list(RenderStatus.ACTIVE)))).all())
    for render_id, folder in folders.items():
        if render_id not in running:
            shutil.rmtree(folder, ignore_errors=True)
    return len(folders) - len(running)


def delete_render_files(*, tenant_id: str, render_id: str) -> None:
    """Delete a render's stored files and its folder on this machine.

    Raises:
        StorageUnavailable: The store could not delete them.
    """
    get_store(Area.RENDERS).delete_prefix(prefix=render_prefix(tenant_id, render_id))
    shutil.rmtree(render_dir(tenant_id, render_id), ignore_errors=True)


def get_kept_file_or_raise(*, render: Render, key: str) -> Download:
    """How to serve a finished render's kept file, by its URL key ("video", "thumbnail", ...).

    Returns:
        The file to send, or a presigned URL to redirect to, named after the render's topic
        (`KeptFile.download_name`): saved as a download when the step keeps it as an attachment,
        else shown inline.

    Raises:
        NotFound: No step keeps such a file, the render has not succeeded, or the file is gone.
        StorageUnavailable: The store cannot be asked.
    """
    kept = find_kept_file(key)
    if kept is None:
        raise NotFound("Renders have no such file.")
    if render.status != RenderStatus.SUCCEEDED:
        raise NotFound("This video is not ready.")
    download = get_store(Area.RENDERS).download(
        key=render_key(render.tenant_id, render.id, kept.filename), media_type=kept.media_type,
        filename=kept.download_name(render.topic), inline=not kept.attachment)
    if download is None:
        raise NotFound("This video is not ready.")
    return download
