"""Several GPUs: the overhead of rendering through a process group of one (the parallel path at
degree 1: process start, NCCL, the mesh, no split) against the same render in this process; a
split over two GPUs and a queue over two GPU workers when the machine has two (skipped with the
reason otherwise). The tiny random T2V model at the check's frame size: the path's own cost, not
a model's speed."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from . import Context, check


def _settings(context: Context, guidance: float) -> dict[str, Any]:
    scale = context.scale
    frames = max(5, scale.frames) if context.dry_run else max(17, scale.frames)
    return {
        "model": "tiny-t2v",
        "prompts": {"0": "a castle at dawn"},
        "max_frames": frames,
        "clip_frames": frames,
        "clip_overlap": 1,
        "fps": 16,
        "W": scale.width,
        "H": scale.height,
        "steps": 4,
        "seed": 1,
        "guidance_scale": guidance,
        "memory_preset": "none",
    }


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@check(
    "parallel_degree1",
    "One render through a process group of one, and of two GPUs when there are two",
    seconds=150,
    expected=60,
    priority=80,
)
def parallel_degree1(context: Context) -> list[str]:
    """Wall seconds of the same render in this process and through render groups."""
    from ...config import config_from_dict
    from ...plan import create_plan
    from ...render import RenderOptions, render
    from ...render.parallel_run import render_in_group

    device = "cpu" if context.dry_run else "cuda"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        settings = _settings(context, 5.0)
        config = config_from_dict(settings)[0]
        plan = create_plan(config)
        options = RenderOptions.of(
            config, device=device, models_dir=str(Path(folder) / "models"), write_video=False
        )
        counts = [1, 2] if not context.dry_run and _gpu_count() >= 2 else [1]
        runs = [(f"group of {n}", n) for n in counts]
        if not context.dry_run:  # the dry run checks the group's path only (its time limit is short)
            render(plan, Path(folder) / "warm", options=options)  # builds the tiny model once
            runs.insert(0, ("in this process", 0))
        for label, processes in runs:
            started = time.perf_counter()
            run = Path(folder) / f"run-{processes}"
            if processes:
                result = render_in_group(processes, plan, run, device_type=device, options=options)
            else:
                result = render(plan, run, options=options)
            clips = sum(clip["seconds"] for clip in result.metrics["clips"])
            rows.append(f"| {label} | {time.perf_counter() - started:.2f} | {clips:.2f} |")
    scale = context.scale
    lines = [
        f"tiny-t2v at {plan.model_frames} frames of {scale.width}x{scale.height}, 4 steps, guidance 5:",
        "",
        "| how | wall s | clip s |",
        "|---|---|---|",
        *rows,
    ]
    if not context.dry_run and _gpu_count() < 2:
        lines.append(f"- a group of two: skipped, this machine has {_gpu_count()} GPU")
    return lines


@check("gpu_queue", "A queue over two GPU workers (serve --gpus 2)", seconds=150, expected=60, priority=81)
def gpu_queue(context: Context) -> list[str]:
    """Two tiny jobs on two GPU workers against one after the other."""
    if context.dry_run or _gpu_count() < 2:
        count = "the dry run has no GPU" if context.dry_run else f"this machine has {_gpu_count()} GPU"
        return [f"- skipped: {count} (it needs two)"]
    import json
    import subprocess
    import sys
    import urllib.request

    from ...render.parallel_run import free_port

    timings = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, gpus in (("one GPU worker", "1"), ("two GPU workers", "2")):
            port = free_port()
            url = f"http://127.0.0.1:{port}/wan/v1"
            command = [sys.executable, "-m", "wan", "serve", "--port", str(port), "--gpus", gpus]
            command += [
                "--output-dir",
                str(Path(folder) / gpus),
                "--models-dir",
                str(Path(folder) / "models"),
            ]
            server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _wait_http(f"{url}/version", server)
                started = time.perf_counter()
                body = json.dumps([_settings(context, 5.0) | {"seed": n} for n in (1, 2)]).encode()
                request = urllib.request.Request(f"{url}/jobs", body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=30) as answer:
                    ids = json.loads(answer.read())["job_ids"]
                states = ["queued"]
                while any(
                    state not in ("succeeded", "failed", "cancelled", "interrupted") for state in states
                ):
                    time.sleep(0.5)
                    states = [_get(f"{url}/jobs/{job}")["state"] for job in ids]
                timings[label] = (time.perf_counter() - started, states)
            finally:
                server.terminate()
                server.wait(30)
    return [
        "| workers | wall s for two jobs (workers' start included) | states |",
        "|---|---|---|",
        *(
            f"| {label} | {seconds:.1f} | {', '.join(states)} |"
            for label, (seconds, states) in timings.items()
        ),
    ]


def _get(url: str) -> Any:
    import json
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def _wait_http(url: str, server: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server stopped (exit code {server.returncode})")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the server did not answer")
