"""Where a render's files live, and which of them it keeps (as the registered steps declare)."""

from __future__ import annotations

import shutil
from pathlib import Path

from saas_app.models import Render
from saas_app.services.core.errors import NotFound
from saas_app.services.renders.status import RenderStatus
from saas_app.services.renders.steps.base import KeptFile
from saas_app.services.renders.steps.registry import find_kept_file, kept_files
from saas_app.settings import get_settings


def render_dir(tenant_id: str, render_id: str) -> Path:
    """Where a render's files live."""
    return Path(get_settings().STORAGE_DIR) / tenant_id / "renders" / render_id


def kept_bytes(folder: Path, kept: tuple[KeptFile, ...] | list[KeptFile] | None = None) -> int:
    """The size of the kept files present in a render's folder (`kept`: these only; default all)."""
    total = 0
    for file in kept_files() if kept is None else kept:
        path = folder / file.filename
        if path.is_file():
            total += path.stat().st_size
    return total


def clean_folder(folder: Path) -> None:
    """Remove everything in a render's folder but the files its steps keep (work files, partials)."""
    if not folder.is_dir():
        return
    keep = {file.filename for file in kept_files()}
    for entry in folder.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def get_kept_file_or_raise(*, render: Render, key: str) -> tuple[Path, KeptFile]:
    """A finished render's kept file by its URL key ("video", "thumbnail", ...).

    Raises:
        NotFound: No step keeps such a file, the render has not succeeded, or the file is gone.
    """
    kept = find_kept_file(key)
    if kept is None:
        raise NotFound("Renders have no such file.")
    path = render_dir(render.tenant_id, render.id) / kept.filename
    if render.status != RenderStatus.SUCCEEDED or not path.exists():
        raise NotFound("This video is not ready.")
    return path, kept
