"""File downloads: whole files or byte ranges (for seeking), with errors in the API's error body; or,
with object storage, a redirect to a short-lived presigned URL that serves the same file the same way."""

from __future__ import annotations

import os
from typing import Any

import anyio
from fastapi.responses import FileResponse, RedirectResponse
from starlette.datastructures import Headers
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable, Response
from starlette.types import Receive, Scope, Send

from saas_app.api.errors import ErrorBody, error_response, errors
from saas_app.services.core.storage import Download


class FileAnswer(FileResponse):
    """A `FileResponse` whose refused `Range` header answers an `ErrorBody` (400 or 416), not plain text."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        http_range = headers.get("range")
        if http_range is not None and "if-range" not in headers and scope.get("method", "GET") in ("GET", "HEAD"):
            stat_result = self.stat_result
            if stat_result is None:
                stat_result = await anyio.to_thread.run_sync(os.stat, self.path)
            size = stat_result.st_size
            try:
                self._parse_range_header(http_range, size)
            except MalformedRangeHeader as exc:
                body = ErrorBody(error="bad_request", message=f"The Range header could not be read: {exc.content}")
                await error_response(400, body)(scope, receive, send)
                return
            except RangeNotSatisfiable:
                body = ErrorBody(error="range_not_satisfiable", message=f"The file has {size} bytes.")
                await error_response(416, body, {"Content-Range": f"bytes */{size}"})(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def send_download(download: Download) -> Response:
    """The answer for a stored file: the file itself, or a redirect to where the object store serves it."""
    if download.url is not None:
        return RedirectResponse(download.url, status_code=307, headers={"Cache-Control": "no-store"})
    assert download.path is not None
    disposition = download.content_disposition
    return FileAnswer(download.path, media_type=download.media_type,
                      headers={"Content-Disposition": disposition} if disposition else None)


def file_responses(media_type: str, *codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a download route: the file, a part of it, a redirect to it in object storage,
    a refused range, storage briefly unavailable, and `codes`."""
    binary = {"content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}
    return {200: {**binary, "description": "The file."},
            206: {**binary, "description": "The byte range asked for with `Range`."},
            307: {"description": "The file is in object storage: follow `Location`, a presigned URL valid for "
                                 "`S3_PRESIGN_TTL_SECONDS`, which serves it with the same type and file name."},
            **errors(400, 416, 503, *codes)}
