"""Where the files the product keeps live: render files (video, thumbnail, ...) and data exports.

One interface, `ObjectStore`, two backends chosen by `STORAGE_BACKEND`:

- ``local`` (the default): files in a directory of this machine, `STORAGE_DIR` for render files
  and `EXPORT_DIR` for exports. Every app process and worker must see the same directory.
- ``s3``: objects in `S3_BUCKET` through the S3 API (AWS S3, MinIO, any S3-compatible store;
  `storage_s3.py`). Processes share nothing on local disk; downloads are presigned URLs.

Keys are relative paths with "/" separators: ``{tenant_id}/renders/{render_id}/{filename}`` for a
render's files (area `RENDERS`), ``{filename}`` for an export ZIP (area `EXPORTS`, which S3 keeps
under ``exports/``). A worker makes a render's files on its own disk first (`STORAGE_DIR`) and
stores the ones a step keeps with `put`; with the local backend that folder is the store itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO

from saas_app.services.core.downloads import content_disposition
from saas_app.services.core.errors import ServiceUnavailable
from saas_app.settings import get_settings


class Area(StrEnum):
    """What a store holds: render files or export ZIPs."""

    RENDERS = "renders"
    EXPORTS = "exports"


class StorageUnavailable(ServiceUnavailable):
    """The object store cannot be reached or refused the request (503; details are logged)."""

    def __init__(self, message: str = "File storage is briefly unavailable.") -> None:
        super().__init__(message, retry_after=30)


@dataclass(frozen=True)
class Download:
    """How a stored file reaches a client: a local file to send, or a short-lived URL to redirect to.

    Attributes:
        media_type: The Content-Type it is served with.
        filename: The name the browser gives the file (`downloads.download_name`); None: none given.
        inline: Shown in the browser (an image) rather than saved as a download.
        path: The file on this machine (local backend).
        url: A presigned URL that serves the file with that type and name (S3 backend).
    """

    media_type: str
    filename: str | None
    inline: bool = False
    path: Path | None = None
    url: str | None = None

    @property
    def content_disposition(self) -> str | None:
        """The `Content-Disposition` the file is served with (None when it has no name)."""
        return None if self.filename is None else content_disposition(self.filename, inline=self.inline)


def check_key(key: str) -> str:
    """A key as given, after refusing absolute paths and ".." (keys are made by us, never typed in).

    Raises:
        ValueError: The key could leave the store's root.
    """
    parts = key.rstrip("/").split("/")
    if not key or key.startswith("/") or "\\" in key or any(part in ("", "..", ".") for part in parts):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class ObjectStore(ABC):
    """Files by key. Every method is safe to call again (a retried job repeats them)."""

    local_root: Path | None = None  # where the files are on this machine (local backend only)

    @abstractmethod
    def put(self, *, key: str, source: Path, media_type: str, move: bool = False) -> None:
        """Store the local file `source` under `key` (replacing what was there).

        Args:
            key: Where to store it.
            source: A file on this machine.
            media_type: Its Content-Type.
            move: The caller no longer needs `source`: it may be moved or deleted.

        Raises:
            StorageUnavailable: The store could not take it.
        """

    @abstractmethod
    def size(self, *, key: str) -> int | None:
        """The stored file's size in bytes, or None when there is none.

        Raises:
            StorageUnavailable: The store cannot be asked.
        """

    @abstractmethod
    def open(self, *, key: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """The stored file for reading (use as a context manager).

        Raises:
            FileNotFoundError: No such file.
            StorageUnavailable: The store cannot be read.
        """

    @abstractmethod
    def delete(self, *, key: str) -> None:
        """Delete one file (nothing happens when it is already gone).

        Raises:
            StorageUnavailable: The store could not delete it.
        """

    @abstractmethod
    def delete_prefix(self, *, prefix: str) -> None:
        """Delete every file whose key starts with the folder `prefix` (ends with "/").

        Raises:
            StorageUnavailable: The store could not delete them.
        """

    @abstractmethod
    def download(self, *, key: str, media_type: str, filename: str | None,
                 inline: bool = False) -> Download | None:
        """How to serve a stored file to a client (named `filename`, saved unless `inline`), or None
        when there is no such file.

        Raises:
            StorageUnavailable: The store cannot be asked.
        """


class LocalStore(ObjectStore):
    """Files under one directory of this machine; a key is a path relative to it."""

    def __init__(self, root: Path) -> None:
        self.local_root = Path(root)

    def path(self, key: str) -> Path:
        """The file a key names."""
        assert self.local_root is not None
        return self.local_root / check_key(key)

    def put(self, *, key: str, source: Path, media_type: str, move: bool = False) -> None:
        target = self.path(key)
        if Path(source).resolve() == target.resolve():
            return  # a render's kept file is made in place
        target.parent.mkdir(parents=True, exist_ok=True)
        if move:
            shutil.move(source, target)
            return
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(source, partial)
        partial.replace(target)

    def size(self, *, key: str) -> int | None:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else None

    def open(self, *, key: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        return self.path(key).open("rb")

    def delete(self, *, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, *, prefix: str) -> None:
        shutil.rmtree(self.path(prefix.rstrip("/")), ignore_errors=True)

    def download(self, *, key: str, media_type: str, filename: str | None,
                 inline: bool = False) -> Download | None:
        path = self.path(key)
        return Download(media_type, filename, inline, path=path) if path.is_file() else None


def get_store(area: Area) -> ObjectStore:
    """The store for an area, as `STORAGE_BACKEND` and its settings say (cheap to call)."""
    settings = get_settings()
    if settings.STORAGE_BACKEND == "s3":
        from saas_app.services.core.storage_s3 import S3Store  # boto3 only when it is used

        return S3Store(prefix="exports/" if area is Area.EXPORTS else "")
    return LocalStore(Path(settings.EXPORT_DIR if area is Area.EXPORTS else settings.STORAGE_DIR))


@contextlib.contextmanager
def scratch_file(folder: Path, name: str) -> Iterator[Path]:
    """A temporary file in `folder` on this machine, removed afterwards unless it was moved away."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{name}.{os.getpid()}.partial"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
