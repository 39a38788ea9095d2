"""GPU benchmark on the real Wan 2.1 architectures, built from their configurations with random
weights in bf16: timing does not depend on the weights, so nothing is downloaded.

0. The bf16 matmul peak of this GPU, measured with a loop of large torch.matmul calls.
1. One transformer forward at 81 frames of 832x480 per model (VACE 1.3B, T2V 1.3B, and the 14B
   models where memory allows), per attention kernel: seconds, achieved TFLOP/s (FLOP from the
   formula of wan.models.flops, written out there) and model-FLOPs utilisation against the peak
   of step 0; each kernel's largest difference from PyTorch's default (relative to the output's
   largest value); the fastest kernel with regional torch.compile; and one forward at batch 2
   against two at batch 1 (whether batching guidance would help).
2. One full clip, 50 steps with guidance 5 and the VAE decode, same process and seed: stock
   WanVACEPipeline with default settings, then each speed preset on a fresh copy of the same
   weights; seconds, s/frame, speed-up, largest difference in the frames. Random weights make
   the skip decisions of first_block (and mag, sea) unrepresentative of a trained model. Then the
   VAE decode alone, without and with cuDNN autotuning.
3. Each memory preset: peak GPU memory (torch.cuda.max_memory_allocated) and time of a clip of
   --memory-steps steps with its decode. Prompts are given as embeddings, so the text encoder
   (run once per prompt and released on every preset) is not in these figures.

--small runs the whole script on the CPU with the tiny architectures (17 frames, 64x64,
float32): it checks the script; its figures are CPU figures, and the GPU is written "not measured".

Run: python benchmarks/bench_gpu.py [--small] [--models vace-1.3b,t2v-1.3b,vace-14b,t2v-14b]
     [--steps 50] [--memory-steps 10] [--presets quality,fast,fastest] [--skip forward,clip,memory]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from common import append_results, command, load_average, machine, take_turns, timed, versions

from wan.models.acceleration import apply_speed, compile_blocks
from wan.models.architectures import (
    TEXT_TOKENS,
    build_random_transformer,
    latent_shape,
    transformer_class,
    transformer_config,
    transformer_inputs,
)
from wan.models.attention import candidate_backends, set_backend
from wan.models.flops import transformer_flops, video_tokens
from wan.models.loading import apply_memory, free_memory
from wan.models.memory import AGGRESSIVE_BELOW_GB, PRESET_ORDER, MemoryOptimizationConfig
from wan.models.speed import DeviceInfo, SpeedConfig, resolve_speed, speed_preset
from wan.models.tiny import TINY_VAE_CONFIG, tiny_transformer_config

GIB = 1024**3


@dataclass(frozen=True)
class Setup:
    """Where and at what size the benchmark runs."""

    device: torch.device
    dtype: torch.dtype
    frames: int
    height: int
    width: int
    models: dict[str, dict[str, Any]]
    clip_model: str
    vae: dict[str, Any]
    matmul_size: int
    small: bool

    def sync(self) -> None:
        """Wait for the GPU (nothing on the CPU)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def setup(args: argparse.Namespace) -> Setup:
    """The real architectures on CUDA at 81x832x480, or the tiny ones on the CPU with --small."""
    if args.small:
        models = {"tiny-vace": tiny_transformer_config("vace"), "tiny-t2v": tiny_transformer_config("t2v")}
        return Setup(
            torch.device("cpu"), torch.float32, 17, 64, 64, models, "tiny-vace", TINY_VAE_CONFIG, 512, True
        )
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU: run with --small to check the script on the CPU")
    models = {name: transformer_config(name) for name in args.models.split(",")}
    return Setup(torch.device("cuda"), torch.bfloat16, 81, 480, 832, models, "vace-1.3b", {}, 8192, False)


# -- 0. the matmul peak --------------------------------------------------------------------------


def matmul_peak(run: Setup, seconds: float = 2.0) -> float:
    """FLOP/s of the fastest of three timed loops of size x size matmuls in the run's dtype."""
    size = run.matmul_size
    a, b = (torch.randn(size, size, device=run.device, dtype=run.dtype) for _ in range(2))
    torch.matmul(a, b)
    once = timed(lambda: torch.matmul(a, b), 3, run.sync)
    loops = max(1, int(seconds / max(min(once), 1e-6)))
    best = min(timed(lambda: [torch.matmul(a, b) for _ in range(loops)], 3, run.sync))
    return 2 * size**3 * loops / best


# -- 1. one forward ------------------------------------------------------------------------------


def _parameters(config: dict[str, Any]) -> int:
    from accelerate import init_empty_weights

    with init_empty_weights():
        model = transformer_class(config)(**config)
    return sum(p.numel() for p in model.parameters())


def memory_problem(run: Setup, config: dict[str, Any], margin_gib: float = 12.0) -> str | None:
    """Why a model cannot be measured here (weights + margin for activations), else None."""
    if run.device.type != "cuda":
        return None
    needed = _parameters(config) * torch.finfo(run.dtype).bits / 8 / GIB + margin_gib
    free = torch.cuda.mem_get_info(run.device)[0] / GIB
    return None if free >= needed else f"not measured: needs about {needed:.0f} GiB, {free:.0f} GiB free"


def _difference(output: torch.Tensor, reference: torch.Tensor) -> float:
    return float((output.float() - reference.float()).abs().max() / reference.float().abs().max())


def forward_rows(run: Setup, name: str, config: dict[str, Any], peak: float, repeats: int) -> list[str]:
    """Section 1 for one model: table rows."""
    problem = memory_problem(run, config)
    if problem:
        return [f"| {name} | all | {problem} | | | |"]
    flops = transformer_flops(config, run.frames, run.height, run.width).total
    model = build_random_transformer(config, device=run.device, dtype=run.dtype)
    inputs = transformer_inputs(
        config, frames=run.frames, height=run.height, width=run.width, device=run.device, dtype=run.dtype
    )

    def forward(batch: dict[str, Any] = inputs) -> torch.Tensor:
        with torch.no_grad():
            return model(**batch)[0]

    def row(label: str, seconds: float, difference: float | str) -> str:
        shown = difference if isinstance(difference, str) else f"{difference:.1e}"
        rate = flops / seconds
        return f"| {name} | {label} | {seconds:.3g} | {rate / 1e12:.3g} | {rate / peak:.0%} | {shown} |"

    rows, timings, reference = [], {}, None
    for backend in candidate_backends(run.device):
        set_backend(model, backend)
        try:
            output = forward()
            timings[backend] = statistics.median(timed(forward, repeats, run.sync))
        except (RuntimeError, ValueError) as error:
            rows.append(f"| {name} | {backend} | fails: {str(error).splitlines()[0][:80]} | | | |")
            continue
        reference = output if reference is None else reference
        label = f"{backend} (stock)" if backend == "native" else backend
        rows.append(
            row(label, timings[backend], 0.0 if output is reference else _difference(output, reference))
        )
        print(rows[-1], flush=True)
    best = min(timings, key=timings.__getitem__)
    set_backend(model, best)
    doubled = {k: torch.cat([v, v]) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
    forward(doubled)
    pair = statistics.median(timed(lambda: forward(doubled), repeats, run.sync))
    ratio = pair / (2 * timings[best])
    rows.append(row(f"{best}, batch 2 in one call ({ratio:.2f}x two batch-1 calls)", pair / 2, "per sample"))
    compile_blocks(model)
    first = timed(forward, 1, run.sync)[0]
    compiled = statistics.median(timed(forward, repeats, run.sync))
    label = f"{best} + regional compile (first call {first:.1f} s)"
    rows.append(row(label, compiled, _difference(forward(), reference)))
    return rows


# -- 2. one clip ---------------------------------------------------------------------------------


def build_pipeline(run: Setup, place: torch.device) -> Any:
    """WanVACEPipeline with random weights (the same for every call), without a text encoder."""
    import diffusers

    transformer = build_random_transformer(run.models[run.clip_model], device=place, dtype=run.dtype)
    torch.manual_seed(1)
    with torch.device(place):
        vae = diffusers.AutoencoderKLWan(**run.vae).eval()
    scheduler = diffusers.UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=3.0
    )
    pipe = diffusers.WanVACEPipeline(
        tokenizer=None, text_encoder=None, vae=vae, scheduler=scheduler, transformer=transformer
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate(run: Setup, pipe: Any, steps: int, guidance: float = 5.0) -> np.ndarray:
    """One clip from fixed random prompt embeddings and seed; its frames."""
    text_dim = run.models[run.clip_model]["text_dim"]
    embeddings = torch.randn(2, 1, TEXT_TOKENS, text_dim, generator=torch.Generator().manual_seed(2))
    output = pipe(
        prompt_embeds=embeddings[0].to(run.device, run.dtype),
        negative_prompt_embeds=embeddings[1].to(run.device, run.dtype),
        height=run.height,
        width=run.width,
        num_frames=run.frames,
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    )
    return np.asarray(output.frames[0])


def _applied(what: Any) -> str:
    resolved = what.resolved
    parts = [f"attention {what.attention}", f"compile {'on' if what.compiled else 'off'}"]
    if resolved.cache != "none":
        parts.append(f"{resolved.cache} {resolved.cache_threshold}")
    if resolved.fp8 != "off":
        parts.append(f"fp8 {resolved.fp8}")
    return ", ".join(parts + list(resolved.notes))


def clip_rows(run: Setup, presets: list[str], steps: int, repeats: int) -> list[str]:
    """Section 2: table rows, then the VAE decode line. Every path is loaded first, warmed up
    (compiled) with a 2-step clip, then the paths take turns `repeats` times (medians)."""
    config = run.models[run.clip_model]
    tokens = video_tokens(config, run.frames, run.height, run.width)
    device = DeviceInfo.probe(run.device)
    paths: dict[str, tuple[Any, Any, int]] = {
        "stock WanVACEPipeline": (build_pipeline(run, run.device), None, steps)
    }
    for name in presets:
        preset_steps = min(speed_preset(name).steps or steps, steps)
        resolved = resolve_speed(SpeedConfig(preset=name), device, offload="none", kind="vace")
        pipe = build_pipeline(run, run.device)
        paths[name] = (
            pipe,
            apply_speed(pipe, resolved, run.device, tokens=tokens, steps=preset_steps),
            preset_steps,
        )

    def clip(name: str, steps: int) -> Callable[[], np.ndarray]:
        pipe, applied, _ = paths[name]

        def call() -> np.ndarray:
            with applied.running(run.device) if applied else contextlib.nullcontext():
                frames = generate(run, pipe, steps)
            if applied:
                applied.after_clip()
            return frames

        return call

    seconds, frames = take_turns(
        {name: clip(name, count) for name, (_, _, count) in paths.items()},
        repeats,
        run.sync,
        warm_up={name: clip(name, 2) for name in paths},  # compiles, at the cost of 2 steps
    )
    base = statistics.median(seconds["stock WanVACEPipeline"])
    stock = frames["stock WanVACEPipeline"]
    rows = []
    for name, (_, applied, count) in paths.items():
        median = statistics.median(seconds[name])
        difference = float(np.abs(frames[name] - stock).max())
        what = _applied(applied) if applied else "diffusers defaults"
        rows.append(
            f"| {name} | {count} | {median:.2f} | {median / run.frames:.3f} | {base / median:.2f}x "
            f"| {difference:.2g} | {what} |"
        )
    paths.clear()
    free_memory()
    return [*rows, "", *vae_lines(run)]


def vae_lines(run: Setup) -> list[str]:
    """The VAE decode of one clip's latents, without and with cuDNN autotuning."""
    import diffusers

    with torch.device(run.device):
        vae = diffusers.AutoencoderKLWan(**run.vae).eval()
    latents = torch.randn(1, vae.config.z_dim, *latent_shape(run.frames, run.height, run.width))
    latents = latents.to(run.device)
    figures = {}
    for benchmark in (False, True):
        torch.backends.cudnn.benchmark = benchmark
        with torch.no_grad():
            vae.decode(latents)  # warm-up (and the autotuning)
            figures[benchmark] = statistics.median(timed(lambda: vae.decode(latents), 2, run.sync))
    torch.backends.cudnn.benchmark = False
    return [
        f"- VAE decode of {run.frames} frames at {run.width}x{run.height} (float32): "
        f"{figures[False]:.2f} s; with cuDNN autotuning{' (no effect on the CPU)' if run.small else ''} "
        f"{figures[True]:.2f} s "
        f"({figures[False] / figures[True]:.2f}x)"
    ]


# -- 3. memory presets ---------------------------------------------------------------------------


def memory_rows(run: Setup, steps: int) -> list[str]:
    """Section 3: table rows."""
    rows = []
    for name in PRESET_ORDER:
        preset = MemoryOptimizationConfig.preset(name)
        pipe = build_pipeline(run, torch.device("cpu"))
        try:
            apply_memory(pipe, preset, run.device)
            free_memory()
            seconds = timed(lambda pipe=pipe: generate(run, pipe, steps), 1, run.sync)[0]
        except (RuntimeError, ValueError) as error:
            rows.append(f"| {name} | {preset.offload} | fails: {str(error).splitlines()[0][:80]} | | |")
            continue
        finally:
            del pipe
        if run.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(run.device) / GIB
            fits = "yes" if peak < AGGRESSIVE_BELOW_GB else "no"
            memory = f"{peak:.2f} | {fits}"
        else:
            memory = "n/a on the CPU | n/a"
        rows.append(
            f"| {name} | {preset.offload}, VAE tiling {preset.vae_tiling} | {seconds:.1f} | {memory} |"
        )
        print(rows[-1], flush=True)
        gc.collect()
        free_memory()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="tiny architectures on the CPU")
    parser.add_argument("--models", default="vace-1.3b,t2v-1.3b,vace-14b,t2v-14b")
    parser.add_argument(
        "--steps", type=int, default=None, help="steps of the full clip (default 50; --small 4)"
    )
    parser.add_argument("--memory-steps", type=int, default=None, help="steps per memory preset (10; 2)")
    parser.add_argument("--presets", default="quality,fast,fastest")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions of each forward")
    parser.add_argument("--clip-repeats", type=int, default=None, help="full clips per path (1; --small 3)")
    parser.add_argument("--skip", default="", help="sections to leave out: forward, clip, memory")
    args = parser.parse_args()
    run = setup(args)
    steps = args.steps or (4 if run.small else 50)
    memory_steps = args.memory_steps or (2 if run.small else 10)
    clip_repeats = args.clip_repeats or (3 if run.small else 1)
    skip = set(filter(None, args.skip.split(",")))
    gpu = torch.cuda.get_device_name(run.device) if run.device.type == "cuda" else None
    dtype = str(run.dtype).removeprefix("torch.")
    started_load = load_average()
    peak = matmul_peak(run)
    size = f"{run.frames} frames at {run.width}x{run.height}"
    title = "GPU benchmark" if gpu else "GPU benchmark script, --small on the CPU (tiny architectures)"
    lines = [
        f"## {title} — {datetime.date.today()}",
        "",
        f"- machine: {machine(gpu)}",
        f"- versions: {versions('torch', 'diffusers', 'transformers', 'accelerate', 'torchao')}",
        f"- command: `{command()}`",
        f"- {dtype} matmul peak, measured ({run.matmul_size}x{run.matmul_size} torch.matmul loop): "
        f"{peak / 1e12:.2f} TFLOP/s",
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
        for name, config in run.models.items():
            lines += forward_rows(run, name, config, peak, args.repeats)
            free_memory()  # the model went with the function's frame
    if "clip" not in skip:
        lines += [
            "",
            f"One clip of {run.clip_model}, {size}, guidance 5, VAE decode, same seed "
            f"({clip_repeats} per path, taking turns, median):",
            "",
            "| path | steps | seconds | s/frame | speed-up | max difference | applied |",
            "|---|---|---|---|---|---|---|",
            *clip_rows(run, args.presets.split(","), steps, clip_repeats),
        ]
    if "memory" not in skip:
        lines += [
            "",
            f"Memory presets, {run.clip_model}, {size}, {memory_steps} steps + VAE decode "
            "(text encoder not included):",
            "",
            "| preset | placement | seconds | peak GiB | under 8 GiB |",
            "|---|---|---|---|---|",
            *memory_rows(run, memory_steps),
        ]
    lines += ["", f"- 1-minute CPU load average at the start and the end: {started_load}, {load_average()}"]
    if not gpu:
        lines.append("- GPU: not measured (no GPU was lent to this run; the figures above are the CPU's)")
    append_results([*lines, ""])


if __name__ == "__main__":
    main()
