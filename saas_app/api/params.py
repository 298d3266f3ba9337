"""Bounded path and query parameters, shared by every route (a value out of bounds answers 422).

The bounds themselves live in `services/core/validation.py`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from saas_app.services.core.validation import ID_PATTERN, MAX_ID_LENGTH, MAX_OFFSET, MAX_PAGE_SIZE

PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (1-{MAX_PAGE_SIZE}).")]
PageOffset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip (0-{MAX_OFFSET}).")]
# An id, key or file name in a path: letters, digits, `_`, `-` and `.` only (ids are 32 hex digits).
PathId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]
