"""The service inside the Automatic1111 / Forge WebUI: one JobService per WebUI process, its
routes on the WebUI's FastAPI app, and the host's rules.

- Two generations never share the GPU: the worker takes the WebUI's own queue lock
  (`modules.call_queue.queue_lock`), so a Wan job and a txt2img never run at once.
- Forge runs GPU work on its main thread (`modules_forge.main_thread.run_and_wait_result`);
  there the worker hands each job to it, and exceptions are carried back (Forge's runner only
  prints them).
- The WebUI applies `--api-auth` only to its own /sdapi routes; ours check the same credentials.
- "Reload UI" makes a new app and calls on_app_started again: `mount` adds the routes to
  whichever app it is given, while the service (and a running job) carries on.
- A running Wan job shows in the WebUI's own progress (shared.state: job, clip, step) and the
  WebUI's Interrupt button cancels it (finished clips are kept), as for txt2img.
- The extension's settings (Settings → Wan Video) choose the models folder, the default model,
  memory preset and enhancer model, whether downloads are allowed and the output folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .api import WanAPI
from .auth import parse_credentials
from .service import JobService

_service: JobService | None = None


def _cmd_opt(name: str) -> Any:
    shared = sys.modules.get("modules.shared")
    return getattr(getattr(shared, "cmd_opts", None), name, None)


SETTINGS_SECTION = ("wan_video", "Wan Video")
# option key -> (default, label); registered by on_ui_settings
OPTIONS: dict[str, tuple[Any, str]] = {
    "wan_models_dir": ("", "Models folder (empty: --wan-models-dir, else models/wan)"),
    "wan_default_model": (
        "vace-1.3b",
        "Default video model (an id from the model list, a hub id or a folder)",
    ),
    "wan_memory_preset": ("auto", "Default memory preset: auto, none, conservative, balanced, aggressive"),
    "wan_enhancer_model": ("auto", "Default prompt-enhancer model (auto, qwen2.5-1.5b, ...)"),
    "wan_allow_download": (False, "Download missing models from the Hugging Face hub"),
    "wan_output_dir": ("", "Output folder (empty: --wan-output-dir, else outputs/wan-videos)"),
}


def option(name: str) -> Any:
    """A Wan Video setting of the WebUI (its default outside the WebUI or when unset)."""
    shared = sys.modules.get("modules.shared")
    opts = getattr(shared, "opts", None)
    data = getattr(opts, "data", None)
    if isinstance(data, dict) and name in data:
        return data[name]
    return OPTIONS[name][0]


def option_choices(name: str) -> list[str] | None:
    """The values a setting offers in a dropdown (None: free text or a checkbox)."""
    if name == "wan_default_model":
        from ..models import MODELS

        return [model for model in MODELS if not model.startswith("tiny")]
    if name == "wan_memory_preset":
        from ..models.memory import PRESET_ORDER

        return ["auto", *PRESET_ORDER]
    if name == "wan_enhancer_model":
        from ..prompts.models import ENHANCER_MODELS

        return ["auto", *(model.id for model in ENHANCER_MODELS.values() if not model.tiny)]
    return None


def register_options(shared: Any) -> None:
    """Add the Wan Video section to the WebUI's settings (on_ui_settings); model and preset
    settings are dropdowns that still take a custom value (a hub id or a folder)."""
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
    """The WebUI's dropdown that also takes typed values (a hub id, a folder), else a plain one."""
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


class WebUIProgress:
    """Shows the running job in the WebUI's progress (shared.state) and obeys its Interrupt."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def started(self, job: Any) -> None:
        """Begin a WebUI job for the Wan job."""
        self.state.begin(job=f"wan_video {job.id[:8]}")

    def event(self, event: Any) -> None:
        """Mirror clip and step into the WebUI's progress fields."""
        self.state.job_count = max(event.clips, 1)
        self.state.job_no = event.clip
        self.state.sampling_steps = event.steps
        self.state.sampling_step = event.step
        self.state.textinfo = event.message or f"Wan Video: clip {event.clip + 1}/{event.clips}"

    def interrupted(self) -> bool:
        """Whether the WebUI's Interrupt (or Skip) was pressed."""
        return bool(getattr(self.state, "interrupted", False) or getattr(self.state, "skipped", False))

    def finished(self) -> None:
        """End the WebUI job."""
        self.state.end()


def host_progress() -> WebUIProgress | None:
    """The WebUI's progress as an observer of the worker, or None outside the WebUI."""
    state = getattr(sys.modules.get("modules.shared"), "state", None)
    return WebUIProgress(state) if state is not None and hasattr(state, "begin") else None


def host_lock() -> Any:
    """The WebUI's queue lock, or None outside the WebUI."""
    try:
        from modules.call_queue import queue_lock  # type: ignore[import-not-found]
    except ImportError:
        return None
    return queue_lock


def host_runner() -> Any:
    """On Forge, a runner that executes a job on Forge's main thread; None elsewhere."""
    try:
        from modules_forge import main_thread  # type: ignore[import-not-found]
    except ImportError:
        return None

    def run(fn: Any) -> Any:
        box: dict[str, Any] = {}

        def call() -> None:
            try:
                box["result"] = fn()
            except BaseException as exc:  # carried back to the worker thread
                box["error"] = exc

        main_thread.run_and_wait_result(call)
        if "error" in box:
            raise box["error"]
        return box.get("result")

    return run


def host_credentials() -> dict[str, str]:
    """The WebUI's --api-auth credentials ({} when it has none)."""
    return parse_credentials(_cmd_opt("api_auth"))


def output_dir() -> Path:
    """The Output folder setting, else --wan-output-dir, else <WebUI outputs>/wan-videos."""
    flag = option("wan_output_dir") or _cmd_opt("wan_output_dir")
    if flag:
        return Path(flag).expanduser()
    internal = sys.modules.get("modules.paths_internal")
    outputs = getattr(internal, "default_output_dir", None)
    return Path(outputs) / "wan-videos" if outputs else Path("outputs") / "wan-videos"


def service() -> JobService:
    """The WebUI's one JobService (created, with its worker, on first use)."""
    global _service
    if _service is None:
        api = WanAPI(
            output_dir=output_dir(),
            models_dir=option("wan_models_dir") or _cmd_opt("wan_models_dir"),
            allow_download=bool(option("wan_allow_download") or _cmd_opt("wan_allow_download")),
        )
        _service = JobService(api, gpu_lock=host_lock(), runner=host_runner(), observer=host_progress())
        problem = _service.check_environment()
        if problem:
            print(f"Wan Video: {problem}", file=sys.stderr)
    return _service


def mount(app: Any) -> None:
    """Add the /wan/v1 routes to the WebUI's app (call on every on_app_started), unless the
    WebUI was started with --wan-disable-api."""
    from .router import create_router

    if _cmd_opt("wan_disable_api"):
        return
    app.include_router(create_router(service(), credentials=host_credentials()))


def tab() -> list[tuple[Any, str, str]]:
    """The WebUI tab (on_ui_tabs): [(blocks, title, id)]."""
    from ..ui import build_ui

    return [(build_ui(service(), defaults=form_defaults()), "Wan Video", "wan_video")]


def shutdown() -> None:
    """Stop the worker (on_script_unloaded); a running job becomes interrupted, resumable."""
    global _service
    if _service is not None:
        _service.close()
        _service = None
