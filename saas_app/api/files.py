"""File downloads: whole files or byte ranges (for seeking), with errors in the API's error body."""

from __future__ import annotations

import os
from typing import Any

import anyio
from fastapi.responses import FileResponse
from starlette.datastructures import Headers
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable
from starlette.types import Receive, Scope, Send

from saas_app.api.errors import ErrorBody, error_response, errors


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


def file_responses(media_type: str, *codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a download route: the file, a part of it, a refused range, and `codes`."""
    binary = {"content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}
    return {200: {**binary, "description": "The file."},
            206: {**binary, "description": "The byte range asked for with `Range`."},
            **errors(400, 416, *codes)}
