"""What a metered render step is: its definition (`Step`), what it gets (`RenderContext`) and
what it returns (`StepResult`). The steps themselves are one module each beside this one, in
the order `registry.STEPS` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from saas_app.services.core.downloads import download_name

if TYPE_CHECKING:
    from saas_app.services.renders.input import RenderInput


class RenderCanceled(Exception):
    """The render was canceled while running."""


class StepError(Exception):
    """A step failed; `message` is for the user, `transient` says whether a retry may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.message, self.transient = message, transient


@dataclass
class StepResult:
    """What a step produced: usage to charge (metric name -> amount), a line shown under the
    step, and updates for the render row (e.g. its duration)."""

    amounts: dict[str, float]
    detail: str = ""
    render_updates: dict[str, Any] = field(default_factory=dict)


@dataclass
class RenderContext:
    """Everything a step needs, loaded once per job."""

    render_id: str
    tenant_id: str
    user_id: str
    topic: str
    scenes: list[dict[str, Any]]
    template: str
    voice: str
    resolution: str
    folder: Path
    options: dict[str, Any] = field(default_factory=dict)  # format, captions, music (`RenderInput.options`)
    report: Callable[[float], None] = lambda _p: None
    canceled: Callable[[], bool] = lambda: False
    reserved: dict[str, float] = field(default_factory=dict)  # what admission reserved, per metric

    @property
    def aspect(self) -> str:
        """The video's aspect ratio ("16:9" for renders made before formats existed)."""
        return str(self.options.get("aspect", "16:9"))

    @property
    def work(self) -> Path:
        """Intermediate files (removed when the render ends)."""
        return self.folder / "work"


@dataclass(frozen=True)
class KeptFile:
    """A file a step leaves in the render's folder for good (charged as storage, exported, served).

    Attributes:
        key: Its name in URLs (`/api/renders/{id}/files/{key}`), e.g. "video".
        filename: Its name in the render's folder and in exports, e.g. "video.mp4".
        media_type: The Content-Type it is served with.
        attachment: Served as a download (else shown inline, like a thumbnail).
        primary: Named after the topic alone ("how-volcanoes-work.mp4"); the others add their
            `label` ("how-volcanoes-work-thumbnail.jpg", "how-volcanoes-work-captions.srt").
        label: The word a non-primary file's download name adds (default: its key).
    """

    key: str
    filename: str
    media_type: str
    attachment: bool = False
    primary: bool = False
    label: str = ""

    def download_name(self, topic: str) -> str:
        """The name a browser gives this file of a render about `topic` (`downloads.download_name`)."""
        word = self.label or self.key
        title = topic if self.primary else f"{topic} {word}"
        return download_name(title, Path(self.filename).suffix, fallback="video" if self.primary else word)


def _no_work_files(_ctx: RenderContext) -> list[Path]:
    return []


@dataclass(frozen=True)
class Step:
    """One metered step of the render pipeline.

    Attributes:
        name: Stored on the step's row and in ledger event keys ("speech"); at most 16 characters.
        label: What the render page calls it ("Narration").
        run: Does the work: writes files to `ctx.work` (temporary) or `ctx.folder` (kept), each to
            a temporary name then renamed; calls `ctx.report(fraction)` and checks `ctx.canceled()`.
        charges: The metrics `run` returns amounts for (storage of kept files is added for it).
        estimate: An upper bound of those amounts, and of the storage its kept files take, for a
            request (admission reserves it before the render is queued).
        work_files: The intermediate files a finished run leaves, so a retried job can skip it (on
            the worker that made them; a job resumed by another worker runs the step again).
        keeps: The files it leaves in the render's folder for good (stored when the step is done).
    """

    name: str
    label: str
    run: Callable[[RenderContext], StepResult]
    charges: tuple[str, ...]
    estimate: Callable[[RenderInput], dict[str, float]]
    work_files: Callable[[RenderContext], list[Path]] = _no_work_files
    keeps: tuple[KeptFile, ...] = ()
