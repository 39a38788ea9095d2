"""`python -m wan worker`: a worker process, started by the server with the runtime's interpreter.

It renders the jobs the server assigns to it (wan.service.worker) until its standard input
closes (the server stops it, or the server died), SIGTERM/SIGINT, or `--idle-exit` seconds pass
without a job. With `--task enhance` it instead reads one enhancement request as JSON on its
standard input, writes the results as JSON on its standard output and exits: the server's way to
run a local Qwen model without importing transformers itself.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any

from .api import WanAPI, probe_gpus
from .jobs import JobStore
from .worker import WorkerLoop


def _watch_input(loop: WorkerLoop) -> None:
    """Stop the loop when standard input reaches its end (the server closed it or died)."""
    try:
        while sys.stdin.buffer.read(1024):
            pass
    except (OSError, ValueError):
        pass
    loop.stop()


def device_info(device: str | None) -> dict[str, Any]:
    """What the worker tells the server about its device (GPU name, memory; imports torch)."""
    gpus = probe_gpus()
    if not gpus:
        return {"device": device or "cpu", "gpu": None}
    index = 0
    if device and device.startswith("cuda:"):
        index = int(device.split(":", 1)[1])
    chosen = next((gpu for gpu in gpus if gpu["index"] == index), gpus[0])
    return {"device": device or f"cuda:{chosen['index']}", "gpu": chosen}


def run_worker(
    queue: str,
    worker_id: str,
    *,
    api: WanAPI,
    idle_exit: float | None,
    watch_input: bool = True,
    keep_seconds: float = 0.0,
) -> int:
    """Run one worker until it is told to stop (`keep_seconds`: how long it keeps a model loaded
    without a job); returns the exit status."""
    store = JobStore(queue)
    loop = WorkerLoop(store, worker_id, api=api, info=device_info(api.device), keep_seconds=keep_seconds)
    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda *_: loop.stop())
    if watch_input:
        threading.Thread(target=_watch_input, args=(loop,), name="wan-stdin", daemon=True).start()
    loop.run(idle_exit=idle_exit)
    if watch_input:
        # The stdin thread is still blocked in a read: interpreter shutdown would wait on the
        # stream's lock and abort ("could not acquire lock for <stdin>"). Nothing is left to
        # clean up once the loop has ended, so leave at once.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def run_enhance_task(api: WanAPI, request: dict[str, Any]) -> dict[str, Any]:
    """Enhance the prompts of one request ({"prompts", "contexts", "settings", "api_key"})."""
    from ..config import config_from_dict
    from ..prompts import PromptContext

    config = config_from_dict(request.get("settings") or {})[0]
    contexts = [PromptContext(c.get("movement", ""), c.get("style", "")) for c in request["contexts"]]
    results = api.enhance_prompts(
        request["prompts"],
        contexts,
        config.enhancement,
        style_strength=config.style.strength,
        api_key=request.get("api_key"),
    )
    return {"results": [r.to_dict() for r in results]}


def main_enhance(api: WanAPI) -> int:
    """Read a request from standard input, write the results (or an error) to standard output."""
    from ..errors import WanError

    try:
        request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        answer = run_enhance_task(api, request)
    except WanError as exc:
        answer = {"error": str(exc)}
    print(json.dumps(answer, ensure_ascii=False))
    return 0
