"""The extension inside the WebUI: one JobService per WebUI process, its routes on the WebUI's
FastAPI app, its tab, and a clean stop. scripts/wan_video.py calls these from the WebUI's
callbacks.

- Jobs run in worker processes of the extension's runtime environment (wan.runtime), never in
  the WebUI's Python: the WebUI process plans, validates and answers, and imports no torch,
  diffusers or transformers for Wan work.
- "Reload UI" makes a new app and calls on_app_started again: `mount` adds the routes to
  whichever app it is given, while the service (and a running job) carries on.
- The routes are left out with --wan-disable-api.
"""

from __future__ import annotations

import sys
from typing import Any

from ..service import ChatServers, JobService, WanAPI
from ..service.auth import CredentialsError
from .host import (
    HostGate,
    api_access,
    cmd_opt,
    host_lock,
    host_progress,
    lora_dir,
    models_dir,
    output_dir,
    runtime_env,
    upload_folders,
    upscaler_dirs,
)
from .options import form_defaults, option

_service: JobService | None = None
_reloading = False


def chat_servers() -> ChatServers:
    """The chat servers the WebUI's setting and --wan-chat-server allow."""
    listed = [url.strip() for url in str(option("wan_chat_servers") or "").split(",")]
    return ChatServers.from_environment(*listed, *(cmd_opt("wan_chat_server") or []))


def keep_model_seconds() -> float:
    """The setting for how long a worker keeps its model loaded (0 when it is not a number from 0
    to a day, said in the console)."""
    from ..service.worker import MAX_KEEP_SECONDS

    value = option("wan_keep_video_model")
    try:
        seconds = float(value or 0)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds <= MAX_KEEP_SECONDS:
        print(
            f"Wan Video: Settings -> Wan Video -> keep the model loaded: {str(value)[:40]!r} is not a number "
            f"of seconds from 0 to {MAX_KEEP_SECONDS:g}; models are unloaded after each job",
            file=sys.stderr,
        )
        return 0.0
    return seconds


def worker_gpus(runtime: Any) -> tuple[list[int], Any]:
    """The GPUs the GPUs setting picks (none: one worker on the default GPU), and what the
    runtime saw; a bad value or a missing GPU is said in the console, with one worker instead."""
    from ..errors import WanError
    from ..service.gpus import choose_gpus

    try:
        return choose_gpus(option("wan_gpus"), runtime, option="Settings -> Wan Video -> GPUs")
    except WanError as exc:
        print(f"Wan Video: {exc}; using one worker on the default GPU", file=sys.stderr)
        return [], None


def service() -> JobService:
    """The WebUI's one JobService (created, with its dispatcher, on first use)."""
    global _service
    if _service is None:
        host_loras = lora_dir()
        api = WanAPI(
            output_dir=output_dir(),
            models_dir=models_dir(),
            allow_download=bool(option("wan_allow_download") or cmd_opt("wan_allow_download")),
            lora_dirs=[host_loras] if host_loras else [],
            upscaler_dirs=upscaler_dirs(),
        )
        runtime = runtime_env()
        gpus, seen = worker_gpus(runtime)
        created = JobService(
            api,
            runtime=runtime,
            gate=HostGate(host_lock()),
            observer=host_progress(),
            chat_servers=chat_servers(),
            gpus=gpus,
            keep_model=keep_model_seconds(),
        )
        created.probed_gpus = seen
        created.access = created.default_access(*upload_folders())
        _service = created
        if created.store.damaged is not None:
            print(
                f"Wan Video: WARNING: the job database could not be read ({created.store.damage_reason}); "
                f"it was kept as {created.store.damaged} and the queue starts empty",
                file=sys.stderr,
            )
        problem = created.problem()
        if problem:
            print(f"Wan Video: jobs cannot run yet: {problem}", file=sys.stderr)
    return _service


def mount(app: Any) -> None:
    """Add the /wan/v1 routes to the WebUI's app (call on every on_app_started), unless the
    WebUI was started with --wan-disable-api. Bad credentials in the WebUI's flags leave the
    routes out, with the reason in the console."""
    from ..service.router import install

    if cmd_opt("wan_disable_api"):
        return
    try:
        access = api_access()
    except CredentialsError as exc:
        print(f"Wan Video: the REST API is not served: {exc}", file=sys.stderr)
        return
    install(app, service(), access)


def tab() -> list[tuple[Any, str, str]]:
    """The WebUI tab (on_ui_tabs): [(blocks, title, id)]."""
    from ..ui import build_ui

    return [(build_ui(service(), defaults=form_defaults()), "Wan Video", "wan_video")]


def reloading() -> None:
    """The WebUI is about to reload its UI (on_before_reload): the service and a running job
    carry on; the WebUI's interrupt of its own generation does not cancel the Wan job."""
    global _reloading
    _reloading = True
    observer = _service.dispatcher.observer if _service is not None else None
    if observer is not None and hasattr(observer, "reload_started"):
        observer.reload_started()


def unloaded() -> None:
    """The WebUI unloads its scripts (on_script_unloaded): for a "Reload UI" nothing stops;
    otherwise the workers stop and a running job becomes interrupted, resumable."""
    global _reloading
    if _reloading:
        _reloading = False
        return
    shutdown()


def shutdown() -> None:
    """Stop the workers; a running job becomes interrupted, resumable."""
    global _service
    if _service is not None:
        _service.close()
        _service = None
