"""Rendering a GenerationPlan with the Wan models: clip generation and chaining, progress,
previews, cancel and pause, resume."""

from .engine import RenderError, RenderOptions, RenderResult, render
from .events import ProgressCallback, ProgressEvent, RenderCancelled, RenderControl
from .run_folder import ResumeMismatchError, RunFolder

__all__ = [
    "ProgressCallback",
    "ProgressEvent",
    "RenderCancelled",
    "RenderControl",
    "RenderError",
    "RenderOptions",
    "RenderResult",
    "ResumeMismatchError",
    "RunFolder",
    "render",
]
