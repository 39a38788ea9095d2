"""Guidance batching on the CPU: whole pipeline calls of the tiny T2V, I2V and VACE models with the
conditional and unconditional passes as one batch of 2, against two calls per step (diffusers'
default); the calls take turns, medians; and the largest difference in the frames (0-1 scale).

The tiny models are small enough that a batch of 2 costs little more than a batch of 1 on the
CPU; what batching saves on a GPU at 81 frames of 832x480 is measured by the GPU check
(python -m wan bench --gpu-check: the quality preset with and without it).

Run: python benchmarks/bench_guidance.py [--steps 10] [--repeats 5] [--size 64x64x17]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime

import torch
from common import append_results, command, load_average, machine, versions

from wan.bench.gpu import Scale, guidance_rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", default="64x64x17", help="WIDTHxHEIGHTxFRAMES")
    args = parser.parse_args()
    width, height, frames = (int(v) for v in args.size.split("x"))
    scale = Scale.tiny(frames, height, width)
    started_load = load_average()
    rows = guidance_rows(
        scale, ("t2v-1.3b", "i2v-14b-480p", "vace-1.3b"), steps=args.steps, repeats=args.repeats
    )
    append_results(
        [
            f"## Guidance batching on the CPU (tiny models) — {datetime.date.today()}",
            "",
            f"- machine: {machine()}",
            f"- versions: {versions('torch', 'diffusers')}, {torch.get_num_threads()} torch threads",
            f"- command: `{command()}`",
            f"- task: one clip, {frames} frames at {width}x{height}, {args.steps} steps, guidance 5, "
            "VAE decode; "
            f"{args.repeats} rounds taking turns, medians",
            "",
            "| model | two calls per step, s | one batch of 2, s | time ratio | max difference |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"- 1-minute load average at the start and the end: {started_load}, {load_average()}",
            "- GPU: unmeasured (this benchmark runs on the CPU)",
            "",
        ]
    )


if __name__ == "__main__":
    main()
