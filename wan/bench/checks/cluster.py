"""A cluster (issue 17): `serve --ray local --gpus 1`, a Ray cluster started by the server on this
machine with one GPU actor, renders a tiny job sent to the REST API; the actor must report the GPU
and the video must reach the head's run folder. With two GPUs, the same job on a context-parallel
group of two actors (`--group-size 2`: a placement group, NCCL). Needs Ray (`pip install -e
".[cluster]"`: carry its wheels to a machine without internet); the dry run has no GPU and skips
it (the CPU tests, tests/test_ray_cluster.py and tests/test_ray_group.py, run CPU actors)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from . import Context, check
from .parallel import _get, _gpu_count, _settings, _wait_http


def _ray_job(context: Context, arguments: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    """One tiny job through `serve --ray local ARGUMENTS`: (the job as it ended, the workers the
    server reports, wall seconds from submission); RuntimeError when it did not succeed or its
    video is not in the head's run folder."""
    from ...render.parallel_run import free_port

    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        url = f"http://127.0.0.1:{port}/wan/v1"
        command = [sys.executable, "-m", "wan", "serve", "--port", str(port), "--ray", "local", *arguments]
        command += ["--output-dir", str(Path(folder) / "out"), "--models-dir", str(Path(folder) / "models")]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_http(f"{url}/version", server, timeout=180)
            started = time.perf_counter()
            body = json.dumps([_settings(context, 5.0)]).encode()
            request = urllib.request.Request(f"{url}/jobs", body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                (job_id,) = json.loads(answer.read())["job_ids"]
            job = _get(f"{url}/jobs/{job_id}")
            while job["state"] not in ("succeeded", "failed", "cancelled", "interrupted"):
                time.sleep(0.5)
                job = _get(f"{url}/jobs/{job_id}")
            seconds = time.perf_counter() - started
            workers = _get(f"{url}/system")["service"].get("workers", [])
            video = (job.get("result") or {}).get("video")
            arrived = bool(video) and Path(video).is_file()
        finally:
            server.terminate()
            server.wait(60)
    if job["state"] != "succeeded" or not arrived:
        raise RuntimeError(f"the job on Ray ended {job['state']} ({job.get('error')}); video: {video}")
    return job, workers, seconds


@check(
    "ray_queue",
    "A job on a Ray GPU actor (serve --ray local --gpus 1)",
    seconds=240,
    expected=60,
    needs=("ray",),
    priority=82,
)
def ray_queue(context: Context) -> list[str]:
    """One tiny job through a local Ray cluster's GPU actor: wall time, state, the actor's GPU."""
    if context.dry_run or _gpu_count() < 1:
        return ["- skipped: " + ("the dry run has no GPU" if context.dry_run else "this machine has no GPU")]
    job, workers, seconds = _ray_job(context, ["--gpus", "1"])
    gpus = ", ".join(str((w.get("gpu") or {}).get("name", "no GPU")) for w in workers) or "none reported"
    return [
        "| actors | their GPU | wall s for one job (the actor's start and model load included) | state |",
        "|---|---|---|---|",
        f"| {len(workers)} | {gpus} | {seconds:.1f} | {job['state']}, video on the head |",
    ]


@check(
    "ray_group",
    "A job on a group of two Ray GPU actors (serve --ray local --gpus 2 --group-size 2)",
    seconds=300,
    expected=90,
    needs=("ray",),
    priority=83,
)
def ray_group(context: Context) -> list[str]:
    """One tiny job on a context-parallel group of two GPU actors (a placement group, NCCL): wall
    time, state and how the group split the work (metrics.json's `parallel`)."""
    if context.dry_run or _gpu_count() < 2:
        count = "the dry run has no GPU" if context.dry_run else f"this machine has {_gpu_count()} GPU"
        return [f"- skipped: {count} (it needs two)"]
    job, workers, seconds = _ray_job(context, ["--gpus", "2", "--group-size", "2"])
    parallel = (job.get("result") or {}).get("metrics", {}).get("parallel") or {}
    ranks = len(workers[0].get("group", [])) if workers else 0
    split = json.dumps(parallel.get("models", []))
    return [
        "| queue workers | actors in the group | processes, device | the split per model | wall s | state |",
        "|---|---|---|---|---|---|",
        f"| {len(workers)} | {ranks} | {parallel.get('processes')}, {parallel.get('device')} | {split} | "
        f"{seconds:.1f} | {job['state']}, video on the head |",
    ]
