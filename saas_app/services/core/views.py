"""The base of the typed views services return (the API's response models, the pages' input).

A view is a frozen pydantic model: the API passes it to FastAPI as `response_model`, the
state layer formats its fields for display. Datetimes keep the JSON form they always had
(Python's ISO 8601 text, `+00:00` for UTC) and stay `datetime` objects in Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema


def _iso(moment: datetime) -> str:
    return moment.isoformat()


IsoDatetime = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class View(BaseModel):
    """A read-only value shown to a client (an API caller or a page)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
