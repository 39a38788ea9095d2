"""GPU check of the LoRA, step-distilled and any-size paths that only CUDA runs (GPU_CHECKS.md).

On the real T2V 1.3B architecture with random bf16 weights (timing and numerics do not depend on
trained weights, so nothing is downloaded) and a random rank-32 LoRA on every attention and
feed-forward layer, one transformer forward at 81 frames of 832x480:

1. stock, the LoRA fused (wan.models.lora), the LoRA as an adapter (a scheduled weight): seconds
   per forward, and the largest difference of fused against adapter (bf16 rounding of the fused
   weights; relative to the output's largest value);
2. the adapter with each CUDA-only speed path on a fresh copy: regional torch.compile with the
   weight changed between calls (how long the call after the change takes: a recompile shows),
   torchao fp8 compute, layerwise fp8 storage, group offloading with CUDA streams: runs or the
   error, and its difference from the plain adapter;
3. the fixed-step scheduler on CUDA (noise from a CPU generator, moved to the GPU): the tiny
   pipeline twice with one seed gives the same frames, and the timesteps are the preset's.

--small runs everything on the CPU with the tiny architecture (it checks the script; the CUDA-only
paths are reported as skipped). Appends what it measured to benchmarks/RESULTS.md.

Run: python benchmarks/check_gpu_loras.py [--small] [--frames 81] [--height 480] [--width 832]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from common import append_results, command, load_average, machine, timed, versions

from wan.models.acceleration import compile_blocks, quantize_fp8
from wan.models.architectures import build_random_transformer, transformer_config, transformer_inputs
from wan.models.lora import apply_loras
from wan.models.tiny import tiny_transformer_config
from wan.models.tiny_loras import random_lora_state
from wan.plan import ClipLora


def _pipeline(transformer: Any) -> Any:
    """A WanPipeline around one transformer: what the LoRA loader works on."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline

    pipe = WanPipeline(
        tokenizer=None,
        text_encoder=None,
        vae=None,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        transformer=transformer,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _clips(file: Path, *weights: float) -> list[Any]:
    return [SimpleNamespace(loras=(ClipLora(str(file), weight),)) for weight in weights]


def _difference(a: Any, b: Any) -> float:
    return float((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny architecture on the CPU")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and not args.small
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    config = tiny_transformer_config("t2v") if args.small else transformer_config("t2v-1.3b")
    frames, height, width = (9, 64, 64) if args.small else (args.frames, args.height, args.width)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    folder = Path(tempfile.mkdtemp(prefix="wan-gpu-loras-"))
    lora = folder / "rank32.safetensors"
    from safetensors.torch import save_file

    state = random_lora_state(config, "diffusers", rank=2 if args.small else 32, scale=0.02)
    save_file({k: v.to(dtype).contiguous() for k, v in state.items()}, str(lora))
    inputs = transformer_inputs(config, frames=frames, height=height, width=width, device=device, dtype=dtype)
    base = build_random_transformer(config, device="cpu", dtype=dtype)

    def fresh() -> Any:
        return copy.deepcopy(base).to(device)

    def forward(model: Any) -> Callable[[], Any]:
        def run() -> Any:
            with torch.no_grad():
                return model(**inputs)[0]

        return run

    gpu = torch.cuda.get_device_name(device) if cuda else None
    lines = [
        f"## GPU check: LoRAs, fixed steps — {datetime.date.today().isoformat()}",
        "",
        f"- machine: {machine(gpu)}; load average {load_average()}",
        f"- {versions('torch', 'diffusers', 'peft', 'torchao')}",
        f"- command: `{command()}`",
        f"- {'tiny architecture (--small), CPU' if args.small else 'T2V 1.3B architecture, random bf16'}, "
        f"one forward at {frames} frames of {width}x{height}; a LoRA of rank {2 if args.small else 32} on "
        "every attention and feed-forward layer"
        + ("; --small checks the script: its seconds are not speed figures" if args.small else ""),
        "",
        "| check | result |",
        "|---|---|",
    ]

    # 1. stock, fused, adapter
    stock = fresh()
    fused_pipe, adapter_pipe = _pipeline(fresh()), _pipeline(fresh())
    apply_loras(fused_pipe, _clips(lora, 1.0))
    scheduled = apply_loras(adapter_pipe, _clips(lora, 1.0, 0.5))
    scheduled.before_clip(_clips(lora, 1.0)[0])
    results = {}
    for name, model in (
        ("stock", stock),
        ("fused", fused_pipe.transformer),
        ("adapter", adapter_pipe.transformer),
    ):
        forward(model)()  # warm-up
        seconds = timed(forward(model), args.repeats, sync)
        results[name] = forward(model)()
        lines.append(f"| forward, {name} | {min(seconds):.4f} s |")
    fused_error = _difference(results["fused"], results["adapter"])
    lines.append(f"| fused against adapter, largest relative difference | {fused_error:.2e} |")
    lines.append(
        f"| the LoRA changes the output (relative) | {_difference(results['fused'], results['stock']):.2e} |"
    )
    del stock, fused_pipe

    # 2. the adapter with the CUDA-only speed paths
    def with_adapter() -> tuple[Any, Any]:
        pipe = _pipeline(fresh())
        applied = apply_loras(pipe, _clips(lora, 1.0, 0.5))
        applied.before_clip(_clips(lora, 1.0)[0])
        return pipe, applied

    def check(name: str, prepare: Callable[[Any, Any], Callable[[], Any]]) -> None:
        if not cuda:
            lines.append(f"| adapter + {name} | skipped (no CUDA) |")
            return
        try:
            pipe, applied = with_adapter()
            run = prepare(pipe, applied)
            output = run()
            sync()
            lines.append(
                f"| adapter + {name} | runs; difference {_difference(output, results['adapter']):.2e} |"
            )
        except Exception as exc:  # the point is to report what fails on this GPU
            lines.append(f"| adapter + {name} | FAILS: {type(exc).__name__}: {str(exc)[:160]} |")
            traceback.print_exc()
        torch.cuda.empty_cache()

    def compiled(pipe: Any, applied: Any) -> Callable[[], Any]:
        compile_blocks(pipe.transformer)
        forward(pipe.transformer)()
        applied.before_clip(_clips(lora, 0.5)[0])  # a new weight: does it recompile?
        after = timed(forward(pipe.transformer), 1, sync)[0]
        steady = min(timed(forward(pipe.transformer), args.repeats, sync))
        lines.append(
            f"| compile: first call after a weight change / steady | {after:.3f} s / {steady:.4f} s |"
        )
        applied.before_clip(_clips(lora, 1.0)[0])
        return forward(pipe.transformer)

    def fp8_compute(pipe: Any, applied: Any) -> Callable[[], Any]:
        quantize_fp8(pipe.transformer)
        return forward(pipe.transformer)

    def fp8_storage(pipe: Any, applied: Any) -> Callable[[], Any]:
        pipe.transformer.to("cpu").enable_layerwise_casting(
            storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype
        )
        pipe.transformer.to(device)
        return forward(pipe.transformer)

    def group_offload(pipe: Any, applied: Any) -> Callable[[], Any]:
        pipe.transformer.to("cpu").enable_group_offload(
            onload_device=device,
            offload_device=torch.device("cpu"),
            offload_type="leaf_level",
            use_stream=True,
        )
        return forward(pipe.transformer)

    check("regional torch.compile", compiled)
    check("torchao fp8 compute", fp8_compute)
    check("layerwise fp8 storage", fp8_storage)
    check("group offload (leaf, CUDA streams)", group_offload)

    # 3. the fixed-step scheduler on this device
    from wan.models.schedulers import seed_scheduler_noise, use_fixed_steps
    from wan.models.tiny import build_tiny_pipeline

    pipe = build_tiny_pipeline("t2v").to(device)
    pipe.set_progress_bar_config(disable=True)
    use_fixed_steps(pipe, (1000, 750, 500, 250), 5.0)
    embeddings = torch.randn(2, 1, 512, 32, generator=torch.Generator().manual_seed(1)).to(device)
    runs = []
    for _ in range(2):
        seed_scheduler_noise(pipe, 3)
        output = pipe(
            prompt_embeds=embeddings[0],
            negative_prompt_embeds=embeddings[1],
            height=32,
            width=32,
            num_frames=5,
            num_inference_steps=4,
            guidance_scale=1.0,
            output_type="pt",
            generator=torch.Generator().manual_seed(0),
        )
        runs.append(output.frames[0])
    timesteps = [round(float(t), 1) for t in pipe.scheduler.timesteps]
    same = bool(torch.equal(runs[0], runs[1]))
    lines.append(
        f"| fixed steps on {device.type}: timesteps, same frames for one seed | {timesteps}, {same} |"
    )
    lines.append("")
    append_results(lines)


if __name__ == "__main__":
    main()
