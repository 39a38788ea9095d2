"""Scaling of one render over several processes: the same tiny render with 1, 2, ... processes
(gloo on the CPU; NCCL, one GPU each, with --device cuda), guidance on (CFG parallel at 2) or off
(context parallel), wall seconds of the whole generate call (process start, model load, clips,
output) and of the clips alone, and the largest frame difference from the 1-process render.

On a 2-core CPU more processes cannot be faster (each process takes the cores the others need):
the CPU lines check the path and show its overhead, not a speed-up. GPU lines are written only
when measured on GPUs; the others say "unmeasured".

Run: python benchmarks/bench_parallel.py [--processes 1,2] [--guidance 1] [--device cpu]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path

import numpy as np
from common import append_results, command, load_average, machine, versions

from wan.render import RunFolder
from wan.service import WanAPI

SETTINGS = {
    "model": "tiny",
    "prompts": {"0": "a castle at dawn", "17": "a misty forest"},
    "max_frames": 29,
    "fps": 16,
    "W": 64,
    "H": 64,
    "steps": 4,
    "clip_frames": 17,
    "seed": 3,
    "memory_preset": "none",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", default="1,2", help="process counts, comma-separated")
    parser.add_argument(
        "--guidance", type=float, default=1.0, help="1: context parallel; above 1: CFG parallel"
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--size", default="64x64", help="WIDTHxHEIGHT")
    args = parser.parse_args()
    counts = [int(value) for value in args.processes.split(",")]
    width, height = (int(v) for v in args.size.split("x"))
    settings = SETTINGS | {"model": args.model, "guidance_scale": args.guidance, "W": width, "H": height}
    started_load = load_average()
    rows, reference = [], None
    with tempfile.TemporaryDirectory() as folder:
        api = WanAPI(output_dir=folder, models_dir=Path(folder) / "models", device=args.device)
        api.generate(settings, run_dir=Path(folder) / "warm", write_video=False)  # builds the model once
        for count in counts:
            run = Path(folder) / f"run-{count}"
            started = time.perf_counter()
            result = api.generate(
                settings, run_dir=run, write_video=False, processes=count, process_device=args.device
            )
            wall = time.perf_counter() - started
            frames = RunFolder(run).read_model_frames(range(result.plan.model_frames)).astype(np.int16)
            reference = frames if reference is None else reference
            clips = sum(clip["seconds"] for clip in result.metrics["clips"])
            layout = result.metrics.get("parallel", {}).get("models", [{}])[0]
            how = (
                f"CFG x{layout.get('cfg_parallel', 1)}, sequence x{layout.get('context_parallel', 1)}"
                if count > 1
                else "one process"
            )
            rows.append(
                f"| {count} | {args.device} | {how} | {wall:.1f} | {clips:.2f} | "
                f"{int(np.abs(frames - reference).max())} |"
            )
    gpu_note = (
        "- GPU: measured above" if args.device == "cuda" else "- GPU (NCCL, one GPU per process): unmeasured"
    )
    append_results(
        [
            f"## One render over several processes — {datetime.date.today()}",
            "",
            f"- machine: {machine()}",
            f"- versions: {versions('torch', 'diffusers')}",
            f"- command: `{command()}`",
            f"- task: {args.model}, 2 clips of 17 frames at {width}x{height}, 4 steps, guidance "
            f"{args.guidance:g}; wall = the whole generate call (process start, load, clips, output)",
            "",
            "| processes | device | split | wall s | clips s | max frame difference (0-255) |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"- 1-minute load average at the start and the end: {started_load}, {load_average()}",
            gpu_note,
            "",
        ]
    )


if __name__ == "__main__":
    main()
