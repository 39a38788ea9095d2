"""A tiny WebUI extension for tests/hosts: records what a host offers an extension, as JSON.

run_host.sh installs it as extensions/host-probe when PROBE=1. At on_app_started (and again on every
"Reload UI") it writes LOG_DIR/host-probe.json (HOST_PROBE_OUT): which host-shared libraries are
already imported and their versions, the command-line options an extension reads, the interpreter
and venv, the gradio upload folder(s), the host's lock and main-thread runner, the thread the
callback runs on, and the app's routes.

Routes it adds (answering only callers on this machine):
- POST /host-probe/reload-ui: what Settings > Reload UI does (a run can watch a reload);
- GET /host-probe/modules: this process's pid, the watched libraries it has imported, how many
  modules of diffusers, transformers, cv2 and torch are loaded, which `wan.*` modules (so a
  run can check that a Wan job did not import diffusers or cv2 into the WebUI's process), and
  whether the host's generation lock (queue_lock) is held.

HOST_PROBE_SYS_PATH=FOLDER[:FOLDER...] appends those folders to sys.path just before the UI is
built (on_before_ui), i.e. after the host's load_scripts() has put back the sys.path it had
before loading the extensions' scripts. A workaround for checks only; see ../NOTES.md (sys.path
while the scripts load).
"""

import json
import os
import sys
import threading
import time

from modules import script_callbacks

WATCHED = (
    "diffusers",
    "transformers",
    "huggingface_hub",
    "peft",
    "accelerate",
    "tokenizers",
    "safetensors",
    "gradio",
    "fastapi",
    "pydantic",
    "starlette",
    "torch",
    "numpy",
    "cv2",
)
OPTIONS = (
    "api",
    "api_auth",
    "gradio_auth",
    "gradio_auth_path",
    "listen",
    "server_name",
    "nowebui",
    "port",
    "subpath",
    "skip_install",
    "webui_is_non_local",
    "disable_extension_access",
)


def _loopback(request):
    from fastapi import HTTPException

    client = getattr(request, "client", None)
    if client is None or client.host not in ("127.0.0.1", "::1", "localhost"):
        raise HTTPException(status_code=403, detail="host-probe answers callers on this machine only")


def _modules():
    loaded = list(sys.modules)
    return {
        "pid": os.getpid(),
        "imported": {name: _version(name) for name in WATCHED},
        "counts": {
            top: sum(1 for name in loaded if name == top or name.startswith(top + "."))
            for top in ("diffusers", "transformers", "cv2", "torch", "numexpr", "wan")
        },
        "wan": sorted(name for name in loaded if name == "wan" or name.startswith("wan.")),
        "numexpr_file": getattr(sys.modules.get("numexpr"), "__file__", None),
        "sys_path_tail": sys.path[-3:],
        "queue_lock_locked": _queue_lock_locked(),
    }


def _queue_lock_locked():
    """Whether the host's generation lock (modules.call_queue.queue_lock) is held right now."""
    try:
        from modules.call_queue import queue_lock
    except ImportError:
        return None
    # both hosts: modules/fifo_lock.py FIFOLock, whose inner threading.Lock is `_lock`
    inner = getattr(queue_lock, "_lock", queue_lock)
    locked = getattr(inner, "locked", None)
    return locked() if locked is not None else None


def _version(name):
    module = sys.modules.get(name)
    return getattr(module, "__version__", "?") if module is not None else None


def _upload_folders():
    found = {"GRADIO_TEMP_DIR": os.environ.get("GRADIO_TEMP_DIR")}
    try:
        from gradio.utils import get_upload_folder  # gradio 4 and later

        found["gradio.utils.get_upload_folder()"] = get_upload_folder()
    except ImportError:
        found["gradio.utils.get_upload_folder()"] = "absent"
    from modules import shared

    demo = getattr(shared, "demo", None)
    found["shared.opts.temp_dir"] = getattr(shared.opts, "temp_dir", None)
    found["demo.temp_file_sets (count)"] = len(getattr(demo, "temp_file_sets", []) or [])
    return found


def _record(demo, app):
    from modules import shared

    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "imported": {name: _version(name) for name in WATCHED},
        "cmd_opts": {name: getattr(shared.cmd_opts, name, "<absent>") for name in OPTIONS},
        "sys.executable": sys.executable,
        "sys.prefix": sys.prefix,
        "sys.base_prefix": sys.base_prefix,
        "site-packages": [p for p in sys.path if p.endswith("site-packages")],
        "cwd": os.getcwd(),
        "thread": threading.current_thread().name,
        "is_main_thread": threading.current_thread() is threading.main_thread(),
        "threads": sorted(t.name for t in threading.enumerate()),
        "demo": type(demo).__name__,
        "app": f"{type(app).__name__} id={id(app)}",
        "upload": _upload_folders(),
        # routes so far (extensions' on_app_started run in folder order: later ones are not here yet)
        "routes": len(app.routes),
    }
    try:
        from modules.call_queue import queue_lock

        record["queue_lock"] = type(queue_lock).__module__ + "." + type(queue_lock).__name__
    except ImportError:
        record["queue_lock"] = None
    try:
        from modules_forge import main_thread

        names = ("run_and_wait_result", "async_run", "loop")
        record["forge_main_thread"] = [name for name in names if hasattr(main_thread, name)]
    except ImportError:
        record["forge_main_thread"] = None
    try:
        from modules import sd_models

        record["sd_models"] = {
            "model_data.sd_model": type(getattr(sd_models.model_data, "sd_model", None)).__name__,
            "was_loaded_at_least_once": getattr(sd_models.model_data, "was_loaded_at_least_once", "<absent>"),
        }
    except Exception as exc:  # a probe must not break the host
        record["sd_models"] = repr(exc)
    out = os.environ.get("HOST_PROBE_OUT", "host-probe.json")
    records = []
    if os.path.exists(out):
        with open(out, encoding="utf8") as handle:
            records = json.load(handle)
    records.append(record)
    with open(out, "w", encoding="utf8") as handle:
        json.dump(records, handle, indent=1, default=str)
    print(f"host-probe: wrote {out} (record {len(records)})")

    from fastapi import Request

    def reload_ui(request: Request):
        """What Settings > Reload UI does (modules/ui_settings.py: fn=shared.state.request_restart)."""
        _loopback(request)
        print(f"host-probe: reload-ui requested {_stamp()}")
        shared.state.request_restart()
        print(f"host-probe: request_restart() returned {_stamp()}")
        return {"requested": "restart"}

    def modules(request: Request):
        _loopback(request)
        return _modules()

    app.add_api_route("/host-probe/reload-ui", reload_ui, methods=["POST"])
    app.add_api_route("/host-probe/modules", modules, methods=["GET"])


def _wan_jobs():
    """Counts of the Wan Video queue's states, when the extension's service is loaded."""
    extension = sys.modules.get("wan.webui.extension")
    service = getattr(extension, "_service", None)
    try:
        return {k: v for k, v in service.counts().items() if v} if service is not None else None
    except Exception as exc:  # a probe must not break the host
        return repr(exc)


def _stamp():
    from modules import shared

    return (
        f"at {time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d}, "
        f"shared.state.interrupted={getattr(shared.state, 'interrupted', None)}, wan jobs {_wan_jobs()}"
    )


def _before_reload():
    print(f"host-probe: before_reload {_stamp()}")


def _unloaded():
    print(f"host-probe: script_unloaded on thread {threading.current_thread().name} {_stamp()}")


def _extend_sys_path():
    for folder in filter(None, os.environ.get("HOST_PROBE_SYS_PATH", "").split(os.pathsep)):
        if folder not in sys.path:
            sys.path.append(folder)
            print(f"host-probe: appended {folder} to sys.path (HOST_PROBE_SYS_PATH)")


script_callbacks.on_before_ui(_extend_sys_path)
script_callbacks.on_app_started(_record)
script_callbacks.on_script_unloaded(_unloaded)
if hasattr(script_callbacks, "on_before_reload"):
    script_callbacks.on_before_reload(_before_reload)
