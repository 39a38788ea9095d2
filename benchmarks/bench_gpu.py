"""GPU benchmark on the real Wan 2.1 architectures, built from their configurations with random
weights in bf16: timing does not depend on the weights, so nothing is downloaded. The measuring
code is wan.bench.gpu (the GPU check runs the same functions with fewer steps).

0. The bf16 matmul peak of this GPU, measured with a loop of large torch.matmul calls.
1. One transformer forward at 81 frames of 832x480 per model (VACE 1.3B, T2V 1.3B, and the 14B
   models), per attention kernel: seconds, achieved TFLOP/s (FLOP from wan.models.flops) and MFU
   against the peak of step 0; each kernel's largest difference from PyTorch's default; one
   forward at batch 2 against two at batch 1; the forward with regional torch.compile.
2. Denoising steps of one clip with guidance 5, same seed: stock WanVACEPipeline with default
   settings, then each speed preset (quality also with the guidance passes in two calls); each
   path warmed up (compiled) by a 1-step call, then --steps steps timed one by one; the steady
   step time extrapolated to 50 steps, MFU, speed-up, the largest difference of the latents.
   Random weights make the skip decisions of first_block unrepresentative of a trained model.
   Then the VAE decode alone, without and with cuDNN autotuning.
3. Each memory preset: peak GPU memory (torch.cuda.max_memory_allocated) and time of
   --memory-steps steps with the decode. Prompts are given as embeddings, so the text encoder
   (run once per prompt and released on every preset) is not in these figures.

--small runs the whole script on the CPU with the tiny architectures (17 frames, 64x64,
float32): it checks the script; its figures are CPU figures, and the GPU is written "not measured".

Run: python benchmarks/bench_gpu.py [--small] [--models vace-1.3b,t2v-1.3b,vace-14b,t2v-14b]
     [--steps 5] [--memory-steps 2] [--presets quality,fast,fastest] [--skip forward,steps,memory]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime

import torch
from common import append_results, command, load_average, machine, versions

from wan.bench.build import parameter_count
from wan.bench.gpu import Scale, compile_rows, forward_rows, memory_rows, path_rows, vae_lines
from wan.bench.timing import matmul_peak
from wan.models.architectures import transformer_config
from wan.models.flops import transformer_flops
from wan.models.loading import free_memory

MARGIN_GIB = 12.0  # activations of one forward at 81 frames, on top of the weights


def _fits(scale: Scale, model: str) -> str | None:
    """Why a model cannot be measured here (weights + margin), else None."""
    if scale.small:
        return None
    needed = parameter_count(model) * 2 / 1024**3 + MARGIN_GIB
    free = torch.cuda.mem_get_info(scale.device)[0] / 1024**3
    return None if free >= needed else f"not measured: needs about {needed:.0f} GiB, {free:.0f} GiB free"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="tiny architectures on the CPU")
    parser.add_argument("--models", default="vace-1.3b,t2v-1.3b,vace-14b,t2v-14b")
    parser.add_argument("--steps", type=int, default=None, help="steps timed per path (default 5; --small 2)")
    parser.add_argument("--memory-steps", type=int, default=None, help="steps per memory preset (2; 1)")
    parser.add_argument("--presets", default="quality,fast,fastest")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions of each forward")
    parser.add_argument("--skip", default="", help="sections to leave out: forward, steps, memory")
    args = parser.parse_args()
    if not args.small and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU: run with --small to check the script on the CPU")
    scale = Scale.tiny() if args.small else Scale.gpu()
    steps = args.steps or (2 if scale.small else 5)
    memory_steps = args.memory_steps or (1 if scale.small else 2)
    skip = set(filter(None, args.skip.split(",")))
    models = args.models.split(",")
    gpu = torch.cuda.get_device_name(scale.device) if not scale.small else None
    dtype = str(scale.dtype).removeprefix("torch.")
    started_load = load_average()
    peak = matmul_peak(scale.device, scale.dtype, size=scale.matmul_size)
    size = f"{scale.frames} frames at {scale.width}x{scale.height}"
    title = "GPU benchmark" if gpu else "GPU benchmark script, --small on the CPU (tiny architectures)"
    lines = [
        f"## {title} — {datetime.date.today()}",
        "",
        f"- machine: {machine(gpu)}",
        f"- versions: {versions('torch', 'diffusers', 'transformers', 'accelerate', 'torchao')}",
        f"- command: `{command()}`",
        f"- {dtype} matmul peak, measured ({scale.matmul_size}x{scale.matmul_size} torch.matmul loop): "
        f"{peak / 1e12:.3g} TFLOP/s",
    ]
    for name in ("t2v-1.3b", "vace-1.3b", "t2v-14b", "vace-14b"):
        count = transformer_flops(transformer_config(name), 81, 480, 832)
        lines.append(
            f"- formula (wan/models/flops.py), {name} at 81 frames of 832x480: {count.total:.3g} FLOP per "
            f"forward, attention scores and values {count.attention_share:.0%}"
        )
    if "forward" not in skip:
        lines += [
            "",
            f"One transformer forward, {size}, {dtype}, random weights ({args.repeats} repetitions, median):",
            "",
            "| model | attention | seconds | TFLOP/s | MFU | difference from native |",
            "|---|---|---|---|---|---|",
        ]
        for model in models:
            problem = _fits(scale, model)
            if problem:
                lines.append(f"| {model} | all | {problem} | | | |")
                continue
            lines += forward_rows(scale, model, peak, args.repeats)
            lines += compile_rows(scale, model, peak, args.repeats)[1:]
            free_memory()
    if "steps" not in skip:
        lines += [
            "",
            f"Denoising steps of {scale.label('vace-1.3b')}, {size}, guidance 5, same seed: {steps} steps "
            "timed after a 1-step warm-up call, extrapolated to 50:",
            "",
            "| path | first call s (warm-up, compile) | s/step | denoising at 50 steps, s (extrapolated) | "
            "TFLOP/s | MFU | speed-up | max latent difference | applied |",
            "|---|---|---|---|---|---|---|---|---|",
            *path_rows(scale, "vace-1.3b", args.presets.split(","), steps=steps, target=50, peak=peak),
            "",
            *vae_lines(scale),
        ]
    if "memory" not in skip:
        lines += [
            "",
            f"Memory presets, {scale.label('vace-1.3b')}, {size}, {memory_steps} step(s) + VAE decode "
            "(text encoder not included):",
            "",
            "| preset | placement | guidance | seconds | peak GiB |",
            "|---|---|---|---|---|",
            *memory_rows(scale, "vace-1.3b", memory_steps),
        ]
    lines += ["", f"- 1-minute CPU load average at the start and the end: {started_load}, {load_average()}"]
    if not gpu:
        lines.append("- GPU: not measured (no GPU was lent to this run; the figures above are the CPU's)")
    append_results([*lines, ""])


if __name__ == "__main__":
    main()
