"""Progress reporting and control of a running render: one callback interface for the CLI's
progress bar, the UI and the API; cancel and pause from any thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "loading", "encoding", "clip_start", "step", "preview", "clip_done", "retry", "writing", "done"
]


@dataclass(frozen=True)
class ProgressEvent:
    """What the renderer is doing. `preview` (H x W x 3 uint8) comes with preview and clip_done
    events: a cheap latent preview, or the finished clip's last frame."""

    kind: EventKind
    clip: int = 0
    clips: int = 0
    step: int = 0
    steps: int = 0
    seconds_per_step: float | None = None
    eta_seconds: float | None = None
    frames_done: int = 0
    frames_total: int = 0
    message: str = ""
    preview: Any = field(default=None, repr=False, compare=False)


ProgressCallback = Callable[[ProgressEvent], None]


class RenderCancelled(Exception):
    """The render was cancelled; every finished clip is on disk and the run can be resumed."""


class RenderControl:
    """Cancel or pause a render from another thread. Cancel takes effect within one denoising
    step; pause holds the render between steps until resume (or cancel)."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        """Stop the render at the end of the current step."""
        self._cancelled.set()
        self._running.set()

    def pause(self) -> None:
        """Hold the render after the current step."""
        self._running.clear()

    def resume(self) -> None:
        """Continue a paused render."""
        self._running.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancel was asked for."""
        return self._cancelled.is_set()

    @property
    def paused(self) -> bool:
        """Whether the render is held."""
        return not self._running.is_set()

    def checkpoint(self) -> None:
        """Called between steps: wait while paused, raise RenderCancelled if cancelled."""
        self._running.wait()
        if self._cancelled.is_set():
            raise RenderCancelled("cancelled; the finished clips are kept and the run can be resumed")
