"""The extension in a stand-in host environment, as CI runs it (tests/run.sh): run with the
stand-in's Python (a venv made from tests/hosts/standin-a1111.txt or standin-forge.txt next to
torch 2.13.0), from the repository root:

    HOST_VENV/bin/python tests/hosts/standin_check.py --host a1111 --work DIR

It checks, in order, what issue 15 asks of a real host, with the host's `modules.*` stubbed as
the unit tests do:

1. install.py, run as the WebUI runs it, prepares the extension's runtime environment (a venv
   in DIR/runtime that reuses this torch) and leaves this environment's `pip freeze` identical;
2. the entry script loads, the routes mount on the WebUI's app with --api-auth, and a tiny job
   submitted over REST runs in a worker process of the runtime to an MP4 of the planned length;
3. a worker killed in the middle of a job leaves it interrupted; resumed, it finishes without
   making its finished clip again.

Exit status 0 when everything holds; each step prints a line.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.request
from pathlib import Path

from tiny_job import TINY_JOB

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = ("wan", "stand-in")
TINY = {**TINY_JOB, "interpolation_enabled": False}


def say(line: str) -> None:
    """One line of progress."""
    print(f"[stand-in] {line}", flush=True)


def freeze() -> list[str]:
    """This environment's installed packages, as pip lists them."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    )
    return sorted(line for line in done.stdout.splitlines() if line.strip())


def run_installer(work: Path) -> None:
    """Step 1: install.py as the WebUI runs it (a subprocess of its Python, its root as cwd)."""
    before = freeze()
    env = {**os.environ, "WAN_RUNTIME_DIR": str(work / "runtime"), "PYTHONPATH": str(work)}
    env.pop("COMMANDLINE_ARGS", None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "install.py")], cwd=work, env=env, capture_output=True, text=True
    )
    print(done.stdout, end="")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    after = freeze()
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    assert not added and not removed, f"the host's packages changed: added {added}, removed {removed}"
    say(f"install.py took {time.monotonic() - started:.0f} s; the host's pip freeze is unchanged")
    sys.path.insert(0, str(ROOT))
    from wan.runtime import RuntimeEnv

    status = RuntimeEnv(work / "runtime").status()
    assert status.ready, status.message
    say(f"runtime ready: {status.details.get('versions') if status.details else ''}")


class _State:
    def __init__(self) -> None:
        self.interrupted = self.skipped = False
        self.events: list[str] = []

    def begin(self, job: str = "") -> None:
        self.events.append("begin")
        self.interrupted = False

    def end(self) -> None:
        self.events.append("end")


def stub_webui(work: Path) -> dict[str, list]:
    """The host's modules the extension touches, with the callback registration contract."""
    callbacks: dict[str, list] = {
        name: [] for name in ("app_started", "script_unloaded", "ui_tabs", "ui_settings")
    }
    modules = types.ModuleType("modules")
    scripts = types.ModuleType("modules.scripts")
    scripts.basedir = lambda: str(ROOT)
    script_callbacks = types.ModuleType("modules.script_callbacks")
    for name in callbacks:
        setattr(script_callbacks, f"on_{name}", callbacks[name].append)
    shared = types.ModuleType("modules.shared")
    shared.cmd_opts = argparse.Namespace(
        api_auth=":".join(CREDENTIALS),
        gradio_auth=None,
        gradio_auth_path=None,
        listen=False,
        server_name=None,
        wan_output_dir=str(work / "outputs"),
        wan_models_dir=str(work / "models"),
        wan_runtime_dir=str(work / "runtime"),
        wan_allow_download=False,
        wan_chat_server=None,
        wan_disable_api=False,
    )
    shared.opts = types.SimpleNamespace(data={})
    shared.state = _State()
    call_queue = types.ModuleType("modules.call_queue")
    call_queue.queue_lock = threading.Lock()
    for name, module in {
        "modules": modules,
        "modules.scripts": scripts,
        "modules.script_callbacks": script_callbacks,
        "modules.shared": shared,
        "modules.call_queue": call_queue,
    }.items():
        sys.modules[name] = module
    modules.scripts, modules.script_callbacks, modules.shared, modules.call_queue = (
        scripts,
        script_callbacks,
        shared,
        call_queue,
    )
    return callbacks


def request(url: str, method: str = "GET", data: object = None, *, auth: bool = True) -> tuple[int, object]:
    """An HTTP request (with the stand-in's credentials unless `auth` is off); (status, JSON or None)."""
    token = base64.b64encode(":".join(CREDENTIALS).encode()).decode()
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Basic {token}"} if auth else {})
    body = json.dumps(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, body, headers, method=method), timeout=30
        ) as answer:
            raw = answer.read()
            status = answer.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def wait(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` is truthy; its value (AssertionError naming `what` on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def count_frames(runtime_python: Path, video: str) -> int:
    """The frames of a video, counted by the runtime (the host has no ffmpeg package)."""
    code = f"from wan.post.encode import count_frames; print(count_frames({video!r}))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [str(runtime_python), "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return int(done.stdout.strip())


def run_jobs(work: Path) -> None:
    """Steps 2 and 3: the glue, a job over REST in a worker process, a killed worker."""
    import uvicorn
    from fastapi import FastAPI

    callbacks = stub_webui(work)
    spec = importlib.util.spec_from_file_location("wan_video_script", ROOT / "scripts" / "wan_video.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.LIBRARY_ERROR is None, script.LIBRARY_ERROR
    heavy = [name for name in ("diffusers", "cv2", "imageio_ffmpeg") if name in sys.modules]
    assert not heavy, f"the WebUI process imported {heavy}"
    app = FastAPI()
    callbacks["app_started"][0](None, app)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait(lambda: server.started, 30, "the server")
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/wan/v1"
    from wan.webui import extension

    assert request(f"{url}/version")[0] == 200
    assert request(f"{url}/version", auth=False)[0] == 401, "the API answered without credentials"
    try:
        status, answer = request(f"{url}/jobs", "POST", TINY)
        assert status == 202, answer
        job_id = answer["job_ids"][0]  # type: ignore[index]
        job = wait(
            lambda: (j := request(f"{url}/jobs/{job_id}")[1]) and j["state"] in ("succeeded", "failed") and j,
            600,
            "the job",
        )
        assert job["state"] == "succeeded", job["error"]
        video = job["result"]["video"]
        service = extension.service()
        frames = count_frames(service.runtime.python, video)
        planned = request(f"{url}/plan", "POST", TINY)[1]["plan"]["output_frames"]  # type: ignore[index]
        assert frames == planned == TINY["max_frames"], (frames, planned)
        workers = [w.pid for w in service.store.workers()]
        assert workers and all(pid != os.getpid() for pid in workers)
        say(f"a tiny job over REST ran in worker process {workers[0]} to an MP4 of {frames} frames")

        # long enough (six clips) that the worker is still rendering when the first clip lands
        second = dict(TINY, seed=12, steps=6, max_frames=96, prompts={"0": "a fox", "48": "a den"})
        job_id = request(f"{url}/jobs", "POST", second)[1]["job_ids"][0]  # type: ignore[index]
        clips = Path(service.store.get(job_id).run_dir) / "clips"  # clips/<fingerprint>/clip.json
        first_clip = wait(lambda: next(iter(sorted(clips.glob("*/clip.json"))), None), 600, "the first clip")
        finished_at = first_clip.stat().st_mtime_ns
        worker_id = service.store.get(job_id).worker  # the job names its worker at once; heartbeats lag
        pid = next(w.pid for w in service.store.workers() if w.id == worker_id)
        os.kill(pid, signal.SIGKILL)
        job = wait(
            lambda: (j := request(f"{url}/jobs/{job_id}")[1]) and j["state"] == "interrupted" and j,
            60,
            "interrupted",
        )
        assert job["resumable"], job
        say(f"killed worker {pid} mid-job: the job is interrupted ({job['error']})")
        assert request(f"{url}/jobs/{job_id}/resume", "POST")[0] == 200
        job = wait(
            lambda: (j := request(f"{url}/jobs/{job_id}")[1]) and j["state"] in ("succeeded", "failed") and j,
            600,
            "the resumed job",
        )
        assert job["state"] == "succeeded", job["error"]
        assert first_clip.stat().st_mtime_ns == finished_at, "the finished clip was replaced"
        assert 0 not in job["result"]["rendered"], "the finished clip was made again"
        say("resumed: it finished without making its finished clip again")
    finally:
        callbacks["script_unloaded"][0]()
        server.should_exit = True
        thread.join(10)


def main() -> int:
    """Run the checks; 0 when all hold."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True, choices=["a1111", "forge"])
    parser.add_argument("--work", required=True, help="a folder for the runtime, models and outputs")
    args = parser.parse_args()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    say(f"{args.host} stand-in: Python {sys.version.split()[0]} at {sys.executable}")
    run_installer(work)
    run_jobs(work)
    say(f"{args.host} stand-in: all checks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
