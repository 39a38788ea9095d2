"""Rendering a GenerationPlan with the Wan models: clip generation and chaining, progress,
previews, cancel and pause, resume.

Names are loaded on first use: the job queue and the UI import the progress events without
pulling in the engine's heavy dependencies (OpenCV, diffusers)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "RenderError": "engine",
    "RenderOptions": "options",
    "Revision": "engine",
    "ClipReuse": "run_folder",
    "Take": "run_folder",
    "VideoResult": "result",
    "torch_device": "engine",
    "render": "engine",
    "ProgressCallback": "events",
    "ProgressEvent": "events",
    "RenderCancelled": "events",
    "RenderControl": "events",
    "ResumeMismatchError": "run_folder",
    "RunFolder": "run_folder",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'wan.render' has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
