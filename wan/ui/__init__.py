"""The Gradio UI: one Blocks builder for the WebUI tab and the standalone server. `build_ui` imports
gradio when called; wan.ui.actions holds the tab's logic without gradio."""

from __future__ import annotations

from typing import Any


def build_ui(
    service: Any, *, title: str = "Wan Video", defaults: dict[str, Any] | None = None, uploads: Any = None
) -> Any:
    """The Wan Video tab as a gr.Blocks over a JobService (imports gradio, never torch)."""
    from .blocks import build_ui as build

    return build(service, title=title, defaults=defaults, uploads=uploads)


__all__ = ["build_ui"]
