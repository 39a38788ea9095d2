"""What keeping the model loaded between jobs saves: the same three jobs (a first one, the same
settings with a new prompt, the same settings again) rendered by a WanAPI that unloads after each
job and by one that keeps the model (WanAPI(keep_models=True), what the server's workers use
with --keep-model). Per job: wall seconds of the generate call and of its load and text-encoding
stages (metrics.json's `stages`).

With the tiny random model the load is small; a real model's load (reading 3-30 GB, LoRA fusing,
quantizing) is what is saved there. GPU figures are written only when measured.

Run: python benchmarks/bench_kept_model.py [--model tiny] [--device cpu] [--size 64x64]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path

from common import append_results, command, load_average, machine, versions

from wan.render import RunFolder
from wan.service import WanAPI

SETTINGS = {
    "prompts": {"0": "a castle at dawn"},
    "max_frames": 17,
    "fps": 16,
    "steps": 4,
    "clip_frames": 17,
    "seed": 3,
    "memory_preset": "none",
}
JOBS = [
    ("first job", {}),
    ("a new prompt", {"prompts": {"0": "a misty forest"}}),
    ("the same settings again", {"prompts": {"0": "a misty forest"}}),
]


def _stage(metrics: dict, name: str) -> float:
    return float(metrics["stages"].get(name, {}).get("seconds", 0.0))


def _gpu_name(device: str) -> str | None:
    if device != "cuda":
        return None
    import torch

    return torch.cuda.get_device_name(0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--size", default="64x64", help="WIDTHxHEIGHT")
    parser.add_argument("--models-dir", help="where the model is (default: a temporary folder, tiny only)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    base = SETTINGS | {"model": args.model, "W": width, "H": height}
    started_load = load_average()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        models = args.models_dir or str(Path(folder) / "models")
        for keep in (False, True):
            api = WanAPI(output_dir=folder, models_dir=models, device=args.device, keep_models=keep)
            for name, change in JOBS:
                started = time.perf_counter()
                result = api.generate(base | change)
                wall = time.perf_counter() - started
                metrics = json.loads(RunFolder(result.run_dir).latest().metrics_path.read_text())
                load, encode = _stage(metrics, "load"), _stage(metrics, "text_encoding")
                rows.append((keep, name, wall, load, encode))
            api.release_models()
    lines = [
        f"## Keeping the model loaded between jobs — {datetime.date.today().isoformat()}",
        "",
        f"- machine: {machine(_gpu_name(args.device))}",
        f"- versions: {versions('torch', 'diffusers')}",
        f"- command: `{command()}`",
        f"- jobs: {args.model}, one clip of 17 frames at {width}x{height}, 4 steps, one after the other in "
        "one process: a first job, the same settings with a new prompt, the same settings again",
        "",
        "| model kept | job | wall s | load s | text encoding s |",
        "|---|---|---|---|---|",
        *(
            f"| {'yes' if keep else 'no'} | {name} | {wall:.2f} | {load:.2f} | {encode:.2f} |"
            for keep, name, wall, load, encode in rows
        ),
        "",
        f"- 1-minute load average at the start and the end: {started_load}, {load_average()}",
    ]
    if args.device == "cpu":
        lines.append("- GPU (a real model's load kept between jobs): unmeasured")
    append_results(lines)


if __name__ == "__main__":
    main()
