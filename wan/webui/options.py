"""The extension's section in the WebUI's settings (Settings -> Wan Video), and reading it."""

from __future__ import annotations

import sys
from typing import Any

SETTINGS_SECTION = ("wan_video", "Wan Video")
# option key -> (default, label); registered by on_ui_settings
OPTIONS: dict[str, tuple[Any, str]] = {
    "wan_models_dir": ("", "Models folder (empty: --wan-models-dir, else models/wan)"),
    "wan_default_model": ("vace-1.3b", "Default video model (an id from the model list, or a folder)"),
    "wan_memory_preset": ("auto", "Default memory preset"),
    "wan_enhancer_model": ("auto", "Default prompt-enhancer model (auto, qwen2.5-1.5b, ...)"),
    "wan_allow_download": (False, "Download missing models from the Hugging Face hub"),
    "wan_output_dir": ("", "Output folder (empty: --wan-output-dir, else outputs/wan-videos)"),
    "wan_keep_host_model": (
        False,
        "Keep the WebUI's own model in GPU memory while a Wan job runs (for GPUs with memory to spare)",
    ),
    "wan_gpus": (
        "",
        "GPUs for Wan jobs: one worker per GPU (all, a number like 2, or indices like 0,2; empty: one "
        "worker on the default GPU). Applies at the next start",
    ),
    "wan_keep_video_model": (
        0,
        "Seconds a Wan worker keeps its model loaded after a job, so the next job of that model starts at "
        "once (0: unload after each job; the GPU memory it holds is not free for the WebUI meanwhile)",
    ),
    "wan_chat_servers": (
        "",
        "Chat servers the API may call for prompt enhancement (comma-separated base URLs)",
    ),
}


def option(name: str) -> Any:
    """A Wan Video setting of the WebUI (its default outside the WebUI or when unset)."""
    opts = getattr(sys.modules.get("modules.shared"), "opts", None)
    data = getattr(opts, "data", None)
    if isinstance(data, dict) and name in data:
        return data[name]
    return OPTIONS[name][0]


def option_choices(name: str) -> list[str] | None:
    """The values a setting offers in a dropdown (None: free text or a checkbox)."""
    if name == "wan_default_model":
        from ..catalog import MODELS

        return [model.id for model in MODELS.values() if not model.tiny]
    if name == "wan_memory_preset":
        from ..config import MEMORY_CHOICES

        return list(MEMORY_CHOICES)
    if name == "wan_enhancer_model":
        from ..prompts.models import ENHANCER_MODELS

        return ["auto", *(model.id for model in ENHANCER_MODELS.values() if not model.tiny)]
    return None


def register_options(shared: Any) -> None:
    """Add the Wan Video section to the WebUI's settings (on_ui_settings); model and preset
    settings are dropdowns, the model ones still taking a typed value (a folder)."""
    for name, (default, label) in OPTIONS.items():
        choices = option_choices(name)
        if choices is None:
            info = shared.OptionInfo(default, label, section=SETTINGS_SECTION)
        else:
            # only `choices` in the arguments: the WebUI passes them to Dropdown.update, which has
            # no allow_custom_value in gradio 3.41; an editable dropdown is its own class
            component = _editable_dropdown() if name != "wan_memory_preset" else _dropdown()
            info = shared.OptionInfo(
                default, label, component, {"choices": choices}, section=SETTINGS_SECTION
            )
        shared.opts.add_option(name, info)


def _dropdown() -> Any:
    import gradio as gr

    return gr.Dropdown


def _editable_dropdown() -> Any:
    """The WebUI's dropdown that also takes typed values (a folder), else a plain one."""
    try:
        from modules.ui_components import DropdownEditable  # type: ignore[import-not-found]
    except ImportError:
        return _dropdown()
    return DropdownEditable


def form_defaults() -> dict[str, Any]:
    """Settings the tab starts with, from the WebUI's options."""
    return {
        "model": option("wan_default_model"),
        "memory_preset": option("wan_memory_preset"),
        "enhance_model": option("wan_enhancer_model"),
    }
