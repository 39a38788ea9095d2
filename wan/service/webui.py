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
    """--wan-output-dir, else <WebUI outputs>/wan-videos."""
    flag = _cmd_opt("wan_output_dir")
    if flag:
        return Path(flag).expanduser()
    internal = sys.modules.get("modules.paths_internal")
    outputs = getattr(internal, "default_output_dir", None)
    return Path(outputs) / "wan-videos" if outputs else Path("outputs") / "wan-videos"


def service() -> JobService:
    """The WebUI's one JobService (created, with its worker, on first use)."""
    global _service
    if _service is None:
        api = WanAPI(output_dir=output_dir(), models_dir=_cmd_opt("wan_models_dir"))
        _service = JobService(api, gpu_lock=host_lock(), runner=host_runner())
    return _service


def mount(app: Any) -> None:
    """Add the /wan/v1 routes to the WebUI's app (call on every on_app_started)."""
    from .router import create_router

    app.include_router(create_router(service(), credentials=host_credentials()))


def shutdown() -> None:
    """Stop the worker (on_script_unloaded); a running job becomes interrupted, resumable."""
    global _service
    if _service is not None:
        _service.close()
        _service = None
