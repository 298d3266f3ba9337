"""The statuses of a render and of its steps: the only place they are spelled."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class RenderStatus(StrEnum):
    """Where a render is: queued, then running, then one of the terminal statuses."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    ACTIVE: ClassVar[frozenset[RenderStatus]]  # unfinished: holds a reservation and a concurrency slot
    TERMINAL: ClassVar[frozenset[RenderStatus]]  # ended: never changes again


RenderStatus.ACTIVE = frozenset({RenderStatus.QUEUED, RenderStatus.RUNNING})
RenderStatus.TERMINAL = frozenset(set(RenderStatus) - RenderStatus.ACTIVE)


class StepStatus(StrEnum):
    """Where one step of a render is."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"

    ACTIVE: ClassVar[frozenset[StepStatus]]  # not finished: ends as failed or canceled with its render
    TERMINAL: ClassVar[frozenset[StepStatus]]


StepStatus.ACTIVE = frozenset({StepStatus.PENDING, StepStatus.RUNNING})
StepStatus.TERMINAL = frozenset(set(StepStatus) - StepStatus.ACTIVE)
