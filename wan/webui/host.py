"""What the extension needs from the host WebUI (A1111 1.6-1.10 or Forge), each read from the
host's own modules when they are there and a harmless default otherwise:

- its command-line flags and paths (output and models folders, its LoRA folder, where uploads
  land);
- the API's access rule (wan.service.auth.host_access: --api-auth, else --gradio-auth, else
  refuse when listening on a network);
- the GPU gate: the host's generation lock (modules.call_queue.queue_lock, in both hosts), held
  while a Wan job runs so txt2img and Wan take turns, and the host's model moved out of GPU memory
  first unless the user keeps it loaded. A1111: its loaded checkpoint is sent to the CPU and, as
  A1111 would not bring it back itself, back to the GPU when the job is done. Forge: all its
  models are unloaded on Forge's main thread (backend.memory_management.unload_all_models) and
  Forge loads them again when it next generates;
- the progress bar: a running Wan job shows in the WebUI's own progress (shared.state) and its
  Interrupt button cancels the job (finished clips are kept).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config.upscale import HOST_UPSCALER_FOLDERS
from ..runtime import RuntimeEnv
from ..runtime.environment import EXTENSION_ROOT
from ..service.auth import LOOPBACK, ApiAccess, host_access
from .options import option

RUNTIME_VARIABLE = "WAN_RUNTIME_DIR"


def cmd_opt(name: str) -> Any:
    """A command-line flag of the WebUI (None outside it or when not given)."""
    shared = sys.modules.get("modules.shared")
    return getattr(getattr(shared, "cmd_opts", None), name, None)


def in_webui() -> bool:
    """Whether the host's modules are loaded (this runs inside a WebUI)."""
    return "modules.shared" in sys.modules


# -- folders ---------------------------------------------------------------------------------------
def output_dir() -> Path:
    """The Output folder setting, else --wan-output-dir, else <WebUI outputs>/wan-videos."""
    flag = option("wan_output_dir") or cmd_opt("wan_output_dir")
    if flag:
        return Path(flag).expanduser()
    internal = sys.modules.get("modules.paths_internal")
    outputs = getattr(internal, "default_output_dir", None)
    return Path(outputs) / "wan-videos" if outputs else Path("outputs") / "wan-videos"


def models_dir() -> str | None:
    """The Models folder setting, else --wan-models-dir (None: wan.models.resolve's default)."""
    return option("wan_models_dir") or cmd_opt("wan_models_dir") or None


def lora_dir() -> Path | None:
    """The WebUI's own LoRA folder: --lora-dir, else <WebUI>/models/Lora (None outside it)."""
    flag = cmd_opt("lora_dir")
    if flag:
        return Path(flag).expanduser()
    paths = sys.modules.get("modules.paths")
    models = getattr(paths, "models_path", None) if paths is not None else None
    return Path(models) / "Lora" if models else None


def upscaler_dirs() -> list[Path]:
    """The WebUI's upscaler folders: models/ESRGAN, models/RealESRGAN and models/SwinIR (or the
    folders their flags name); none outside the WebUI."""
    paths = sys.modules.get("modules.paths")
    models = getattr(paths, "models_path", None) if paths is not None else None
    folders = []
    for name, flag in HOST_UPSCALER_FOLDERS.items():
        chosen = cmd_opt(flag)
        if chosen:
            folders.append(Path(chosen).expanduser())
        elif models:
            folders.append(Path(models) / name)
    return folders


def runtime_env() -> RuntimeEnv:
    """The extension's runtime environment: --wan-runtime-dir, $WAN_RUNTIME_DIR, else
    <extension>/runtime."""
    chosen = cmd_opt("wan_runtime_dir") or os.environ.get(RUNTIME_VARIABLE)
    return RuntimeEnv(Path(chosen).expanduser() if chosen else EXTENSION_ROOT / "runtime")


def upload_folders() -> list[Path]:
    """Where the host's gradio puts uploaded files: its temp_dir option (A1111) or
    $GRADIO_TEMP_DIR, and gradio's own default."""
    folders = []
    opts = getattr(sys.modules.get("modules.shared"), "opts", None)
    temp_dir = getattr(opts, "temp_dir", None) if opts is not None else None
    if temp_dir:
        folders.append(Path(temp_dir))
    if os.environ.get("GRADIO_TEMP_DIR"):
        folders.append(Path(os.environ["GRADIO_TEMP_DIR"]))
    folders.append(Path(tempfile.gettempdir()) / "gradio")
    return list(dict.fromkeys(folders))


# -- who may use the API ---------------------------------------------------------------------------
def listening_on_network() -> bool:
    """Whether the WebUI can be reached beyond this machine: --listen, --server-name other than
    loopback, or a public tunnel to it (--share's gradio.live link, --ngrok)."""
    name = cmd_opt("server_name")
    tunnel = bool(cmd_opt("share")) or bool(cmd_opt("ngrok"))
    return bool(cmd_opt("listen")) or (bool(name) and name not in LOOPBACK) or tunnel


def api_access() -> ApiAccess:
    """The API's access rule inside this WebUI (see wan.service.auth.host_access)."""
    return host_access(
        api_auth=cmd_opt("api_auth"),
        gradio_auth=cmd_opt("gradio_auth"),
        gradio_auth_path=cmd_opt("gradio_auth_path"),
        listening=listening_on_network(),
    )


# -- the GPU ---------------------------------------------------------------------------------------
def host_lock() -> Any:
    """The WebUI's generation lock, or a lock of our own outside the WebUI."""
    try:
        from modules.call_queue import queue_lock  # type: ignore[import-not-found]
    except ImportError:
        return threading.Lock()
    return queue_lock


def on_main_thread(fn: Callable[[], Any]) -> Any:
    """Run `fn` on Forge's main thread (where Forge wants GPU work) and return its result, its
    errors carried back (Forge's runner only prints them, and deadlocks when called from that
    thread); elsewhere, run it here."""
    try:
        from modules_forge import main_thread  # type: ignore[import-not-found]
    except ImportError:
        return fn()
    if threading.current_thread() is threading.main_thread():  # the thread that runs Forge's loop
        return fn()
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # carried back to the caller
            box["error"] = exc

    main_thread.run_and_wait_result(call)
    if "error" in box:
        raise box["error"]
    return box.get("result")


Restore = Callable[[], None]


def _nothing() -> None:
    return None


def unload_host_model() -> Restore:
    """Move the host's model out of GPU memory; returns what puts it back (see the module doc)."""
    try:
        from backend import memory_management  # type: ignore[import-not-found]  (Forge)
    except ImportError:
        memory_management = None
    if memory_management is not None:

        def forge() -> None:
            memory_management.unload_all_models()
            memory_management.soft_empty_cache()

        on_main_thread(forge)
        return _nothing  # Forge loads what it needs when it next generates
    try:
        from modules import devices, sd_models  # type: ignore[import-not-found]  (A1111)
    except ImportError:
        return _nothing
    # model_data.sd_model, not shared.sd_model: the latter loads a checkpoint when none is loaded
    model = getattr(getattr(sd_models, "model_data", None), "sd_model", None)
    if model is None:
        return _nothing
    sd_models.send_model_to_cpu(model)
    with contextlib.suppress(Exception):
        devices.torch_gc()

    def restore() -> None:
        if getattr(sd_models.model_data, "sd_model", None) is model:
            sd_models.send_model_to_device(model)

    return restore


class HostGate:
    """The GPU, shared with the host (see the module doc)."""

    def __init__(self, lock: Any, *, unload: Callable[[], Restore] = unload_host_model) -> None:
        self.lock = lock
        self.unload = unload
        self._restore: Restore = _nothing

    def acquire(self, job: Any) -> None:
        """Wait for the host's lock, then free the host's GPU memory unless told to keep it."""
        self.lock.acquire()
        self._restore = _nothing
        if option("wan_keep_host_model"):
            return
        try:
            self._restore = self.unload()
        except Exception as exc:  # a host that cannot unload must not keep the job from running
            print(f"Wan Video: the WebUI's model could not be unloaded: {exc}", file=sys.stderr)

    def release(self) -> None:
        """Give the host its model back (where it would not load it itself) and its lock."""
        try:
            self._restore()
        except Exception as exc:  # the host reloads on its own when this fails
            print(f"Wan Video: the WebUI's model could not be put back on the GPU: {exc}", file=sys.stderr)
        finally:
            self._restore = _nothing
            self.lock.release()


# "Reload UI" interrupts the WebUI's generation first and tells extensions it reloads only
# about a second later (A1111 and Forge: request_restart, then demo.close, a 0.5 s sleep and
# on_before_reload): an interrupt counts as the user's only after this long without a reload.
INTERRUPT_GRACE_SECONDS = 2.0
# what the WebUI's progress text may show of a job's messages (not file paths)
_SHOWN_KINDS = ("loading", "encoding", "writing", "retry")


class WebUIProgress:
    """Shows the running job in the WebUI's progress (shared.state) and obeys its Interrupt
    (but not the interrupt a "Reload UI" sends: see INTERRUPT_GRACE_SECONDS)."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.job_id: str | None = None
        self.reloaded_during: str | None = None  # the job that was running when the UI reloaded
        self._interrupt_seen: float | None = None

    def started(self, job: Any) -> None:
        """Begin a WebUI job for the Wan job."""
        self.job_id, self.reloaded_during, self._interrupt_seen = job.id, None, None
        self.state.begin(job=f"wan_video {job.id[:8]}")

    def reload_started(self) -> None:
        """The WebUI reloads its UI: its interrupt is not for the job that runs now."""
        self.reloaded_during = self.job_id

    def progress(self, job: Any) -> None:
        """Mirror clip and step into the WebUI's progress fields."""
        progress = job.progress or {}
        clips = max(progress.get("clips", 1), 1)
        self.state.job_count = clips
        self.state.job_no = progress.get("clip", 0)
        self.state.sampling_steps = progress.get("steps", 0)
        self.state.sampling_step = progress.get("step", 0)
        message = progress.get("message") if progress.get("kind") in _SHOWN_KINDS else ""
        self.state.textinfo = f"Wan Video: clip {progress.get('clip', 0) + 1}/{clips}" + (
            f", {message}" if message else ""
        )

    def interrupted(self) -> bool:
        """Whether the WebUI's Interrupt (or Skip) was pressed for this job."""
        if not (getattr(self.state, "interrupted", False) or getattr(self.state, "skipped", False)):
            self._interrupt_seen = None
            return False
        if self.job_id is not None and self.reloaded_during == self.job_id:
            return False
        now = time.monotonic()
        if self._interrupt_seen is None:
            self._interrupt_seen = now
        return now - self._interrupt_seen >= INTERRUPT_GRACE_SECONDS

    def finished(self) -> None:
        """End the WebUI job."""
        self.state.textinfo = None
        self.job_id, self.reloaded_during, self._interrupt_seen = None, None, None
        self.state.end()


def host_progress() -> WebUIProgress | None:
    """The WebUI's progress as an observer of the dispatcher, or None outside the WebUI."""
    state = getattr(sys.modules.get("modules.shared"), "state", None)
    return WebUIProgress(state) if state is not None and hasattr(state, "begin") else None
