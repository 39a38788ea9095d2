"""What the GPU check's `weights` check cannot fit in its budget (benchmarks/GPU_CHECKS.md),
on a real-size Wan 2.2 A14B expert with random weights (nothing is downloaded):

A. The whole 14B expert (all 40 blocks, saved once into --work) in each weights format, loaded
   through the project's loading code: load seconds, GPU memory, one forward at 81 frames of
   832x480, its peak and its difference from bf16 (wan.bench.weights.weights_rows; the check runs
   the same code on 4 of the 40 blocks).
B. Whole renders through the engine of a two-expert pipeline of that size, memory and weights auto,
   the GPU capped at --caps GiB: the placement auto picks, peak memory, seconds per step and per
   clip (wan.bench.weights.auto_placement_rows). The text encoder is a one-layer UMT5 of the real
   width, the VAE the real one with random weights: the video is noise; times and memory are real.

29 GB of disk for the expert in bf16 and about 30 GB of CPU memory while it is built. --small runs
both parts on the CPU with the tiny two-expert model (it checks the script; its figures are CPU
figures, and the GPU's are written "not measured").

Run: python benchmarks/bench_gpu_weights.py [--small] [--work DIR] [--formats bf16,fp8,...]
     [--caps 16,12] [--steps 8] [--skip forward,render]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path

import torch
from common import append_results, command, load_average, machine, versions

from wan.bench.gpu import Scale
from wan.bench.weights import (
    AUTO_HEADER,
    FORMATS,
    WEIGHTS_HEADER,
    SavedTransformer,
    auto_placement_rows,
    build_pipeline_folder,
    weights_rows,
)
from wan.models.quantization import Weights


def main() -> None:
    """Run the parts and append them to benchmarks/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the tiny two-expert model on the CPU")
    parser.add_argument(
        "--work", default=os.environ.get("WAN_BENCH_WORK", "bench-work"), help="where the model goes"
    )
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--caps", default="16,12", help="GPU memory caps in GiB for part B")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--skip", default="", help="forward, render")
    args = parser.parse_args()
    small = args.small or not torch.cuda.is_available()
    scale = Scale.tiny(17, 64, 64) if small else Scale.gpu()
    model = "t2v-a14b"
    folder = build_pipeline_folder(Path(args.work) / ("tiny-t2v-2experts" if small else model), small)
    skip = set(filter(None, args.skip.split(",")))
    gpu = torch.cuda.get_device_name(scale.device) if not small else None
    lines = [
        f"- machine: {machine(gpu)}",
        f"- versions: {versions('torch', 'diffusers', 'transformers', 'torchao', 'bitsandbytes', 'gguf')}",
        f"- command: `{command()}`",
        f"- 1-minute CPU load average at the start: {load_average()}",
    ]
    if "forward" not in skip:
        saved = SavedTransformer(folder, scale.config(model), scale.model(model), scale.config(model))
        formats = [Weights(name) for name in args.formats.split(",")]
        lines += [
            "",
            f"A. {saved.description()}, one forward of {scale.frames} frames at "
            f"{scale.width}x{scale.height}:",
            "",
            *WEIGHTS_HEADER,
            *weights_rows(scale, saved, formats),
        ]
    if "render" not in skip:
        caps = [float(c) for c in args.caps.split(",") if c]
        lines += [
            "",
            f"B. One clip through the engine, memory and weights auto, {args.steps} steps, GPU capped:",
            "",
            *AUTO_HEADER,
            *auto_placement_rows(folder, caps, args.steps, scale.device, small),
        ]
    if small:
        lines.append("- GPU: not measured (no GPU was lent to this run; the figures above are the CPU's)")
    title = "GPU check of quantized weights and the auto placement"
    title += " (--small on the CPU)" if small else f" on {gpu}"
    append_results([f"## {title} — {datetime.date.today().isoformat()}", "", *lines, ""])


if __name__ == "__main__":
    main()
