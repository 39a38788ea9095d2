"""LoRAs measured on a real-size transformer with random weights and a random LoRA on every
attention and feed-forward layer, through the project's loader (wan.models.lora): one forward
stock, with the LoRA fused and as an adapter (a scheduled weight); the adapter under each
CUDA-only speed path (torchao fp8 compute, fp8 storage, group offloading with CUDA streams, and
regional torch.compile with the weight changed between calls); and the fixed-step scheduler of the
lightx2v preset on the device (the same frames twice for one seed).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..models.acceleration import compile_blocks, quantize_fp8
from ..models.architectures import build_random_transformer
from ..models.loading import free_memory
from ..models.lora import AppliedLoras, apply_loras
from ..models.speed import DeviceInfo
from ..models.tiny_loras import random_lora_state
from ..plan import ClipLora
from .gpu import Scale, first_error_line, forward_inputs, forward_of, relative_difference
from .timing import timed

LORA_HEADER = ["| check | result |", "|---|---|"]
FIXED_TIMESTEPS = (1000, 750, 500, 250)  # the lightx2v preset's


def write_random_lora(scale: Scale, model: str, path: Path, *, rank: int) -> Path:
    """A random LoRA of `rank` on every attention and feed-forward layer of `model`'s transformer,
    in diffusers' key format, saved in the scale's dtype."""
    from safetensors.torch import save_file

    state = random_lora_state(scale.config(model), "diffusers", rank=rank, scale=0.02)
    save_file({key: value.to(scale.dtype).contiguous() for key, value in state.items()}, str(path))
    return path


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
    """Clips of a plan that use the LoRA at these weights (one weight: it is fused)."""
    return [SimpleNamespace(loras=(ClipLora(str(file), weight),)) for weight in weights]


class LoraBench:
    """One model, its inputs and a LoRA file: fresh transformers (the same random weights each
    time) with the LoRA fused or as an adapter."""

    def __init__(self, scale: Scale, model: str, lora: Path) -> None:
        self.scale, self.model, self.lora = scale, model, lora
        self.config = scale.config(model)
        self.inputs = forward_inputs(scale, self.config)

    def fresh(self, place: Any = None) -> Any:
        """The transformer with its random weights (seed 0), built on the device (fast on a GPU) and
        moved to `place` when given."""
        built = build_random_transformer(self.config, device=self.scale.device, dtype=self.scale.dtype)
        return built if place is None else built.to(place)

    def fused(self) -> Any:
        """A pipeline with the LoRA fused at weight 1."""
        pipe = _pipeline(self.fresh())
        apply_loras(pipe, _clips(self.lora, 1.0))
        return pipe

    def adapter(self, place: Any = None) -> tuple[Any, AppliedLoras]:
        """A pipeline with the LoRA as an adapter (weights 1 and 0.5 in two clips), set to 1."""
        pipe = _pipeline(self.fresh(place))
        applied = apply_loras(pipe, _clips(self.lora, 1.0, 0.5))
        self.set_weight(applied, 1.0)
        return pipe, applied

    def set_weight(self, applied: AppliedLoras, weight: float) -> None:
        """Set the adapter's weight as a render does before a clip."""
        applied.before_clip(_clips(self.lora, weight)[0])

    def forward(self, transformer: Any) -> Callable[[], Any]:
        """One forward of `transformer` on the inputs."""
        return forward_of(transformer, self.inputs)

    def seconds(self, transformer: Any, repeats: int) -> tuple[float, Any]:
        """Median seconds of a forward after a warm-up one, and its output."""
        forward = self.forward(transformer)
        output = forward()
        return statistics.median(timed(forward, repeats, self.scale.sync)), output


def lora_rows(scale: Scale, model: str, lora: Path, *, repeats: int) -> tuple[list[str], Any]:
    """Rows of LORA_HEADER: a forward stock, fused and as an adapter, fused against adapter, and
    the adapter under fp8 storage, torchao fp8 compute and group offloading (those that run on
    this device; the others a row saying why); and the adapter's output, the others' reference."""
    import torch

    bench = LoraBench(scale, model, lora)
    rows, outputs = [], {}
    for name, build in (
        ("stock", bench.fresh),
        ("fused", lambda: bench.fused().transformer),
        ("adapter", lambda: bench.adapter()[0].transformer),
    ):
        transformer = build()
        seconds, outputs[name] = bench.seconds(transformer, repeats)
        rows.append(f"| forward, {name} | {seconds:.4g} s |")
        del transformer
        free_memory()
    adapter, fused = outputs["adapter"], outputs["fused"]
    rows.append(
        f"| fused against adapter, largest relative difference | {relative_difference(fused, adapter):.2e} |"
    )
    rows.append(
        f"| the LoRA changes the output (relative) | {relative_difference(fused, outputs['stock']):.2e} |"
    )
    cuda = scale.device.type == "cuda"
    info = DeviceInfo.probe(scale.device)

    def fp8_storage() -> Any:
        pipe, _ = bench.adapter()
        pipe.transformer.enable_layerwise_casting(
            storage_dtype=torch.float8_e4m3fn, compute_dtype=scale.dtype
        )
        return pipe.transformer

    def fp8_compute() -> Any:
        pipe, _ = bench.adapter()
        quantize_fp8(pipe.transformer)
        return pipe.transformer

    def group_offload() -> Any:
        pipe, _ = bench.adapter(place="cpu")
        pipe.transformer.enable_group_offload(
            onload_device=scale.device,
            offload_device=torch.device("cpu"),
            offload_type="leaf_level",
            use_stream=True,
        )
        return pipe.transformer

    paths: list[tuple[str, Callable[[], Any], str | None]] = [
        ("fp8 storage (layerwise casting)", fp8_storage, None),
        (
            "torchao fp8 compute",
            fp8_compute,
            None if info.fp8_compute and info.torchao else "needs compute capability 8.9+ and torchao",
        ),
        ("group offload (leaf level, CUDA streams)", group_offload, None if cuda else "needs CUDA"),
    ]
    for name, build, missing in paths:
        if missing is not None:
            rows.append(f"| adapter + {name} | not run: {missing} |")
            continue
        try:
            transformer = build()
            seconds, output = bench.seconds(transformer, repeats)
            rows.append(
                f"| adapter + {name} | runs: {seconds:.4g} s; difference from the adapter "
                f"{relative_difference(output, adapter):.2e} |"
            )
        except Exception as error:  # the point is to report what fails on this device
            rows.append(f"| adapter + {name} | FAILS: {type(error).__name__}: {first_error_line(error)} |")
        transformer = output = None
        free_memory()
    return rows, adapter


def lora_compile_rows(scale: Scale, model: str, lora: Path, *, repeats: int) -> list[str]:
    """Rows of LORA_HEADER: the adapter with the repeated blocks compiled (Inductor on CUDA; the
    eager backend on the CPU: the wiring only), the first call, the first call after the adapter's
    weight changed (a recompile shows as seconds there) and later calls, against the adapter
    uncompiled."""
    bench = LoraBench(scale, model, lora)
    pipe, applied = bench.adapter()
    forward = bench.forward(pipe.transformer)
    eager, reference = bench.seconds(pipe.transformer, repeats)
    if scale.small:
        pipe.transformer.compile_repeated_blocks(fullgraph=True, backend="eager")
    else:
        compile_blocks(pipe.transformer)
    first = timed(forward, 1, scale.sync)[0]
    bench.set_weight(applied, 0.5)  # a scheduled weight: the next clip's
    changed = timed(forward, 1, scale.sync)[0]
    bench.set_weight(applied, 1.0)
    back = timed(forward, 1, scale.sync)[0]
    steady = statistics.median(timed(forward, repeats, scale.sync))
    difference = relative_difference(forward(), reference)
    backend = "eager backend: the wiring only, on the CPU" if scale.small else "Inductor"
    return [
        f"| adapter, uncompiled | {eager:.4g} s |",
        f"| adapter + regional compile ({backend}): first call | {first:.3g} s |",
        f"| the first call after the weight changed to 0.5 / back to 1 | {changed:.3g} s / {back:.3g} s |",
        f"| later calls | {steady:.4g} s ({eager / steady:.2f}x uncompiled) |",
        f"| compiled against uncompiled, largest relative difference | {difference:.2e} |",
    ]


def fixed_steps_row(scale: Scale) -> str:
    """A row: the fixed-step scheduler (lightx2v) on the tiny pipeline on this device, twice with
    one seed (noise from a CPU generator moved to the device): its timesteps, same frames or not."""
    import torch

    from ..models.schedulers import seed_scheduler_noise, use_fixed_steps
    from ..models.tiny import build_tiny_pipeline

    pipe = build_tiny_pipeline("t2v").to(scale.device)
    pipe.set_progress_bar_config(disable=True)
    use_fixed_steps(pipe, FIXED_TIMESTEPS, 5.0)
    width = pipe.transformer.config.text_dim
    embeddings = torch.randn(2, 1, 512, width, generator=torch.Generator().manual_seed(1)).to(scale.device)
    runs = []
    for _ in range(2):
        seed_scheduler_noise(pipe, 3)
        output = pipe(
            prompt_embeds=embeddings[0],
            negative_prompt_embeds=embeddings[1],
            height=32,
            width=32,
            num_frames=5,
            num_inference_steps=len(FIXED_TIMESTEPS),
            guidance_scale=1.0,
            output_type="pt",
            generator=torch.Generator().manual_seed(0),
        )
        runs.append(output.frames[0])
    timesteps = [round(float(t), 1) for t in pipe.scheduler.timesteps]
    same = bool(torch.equal(runs[0], runs[1]))
    return (
        f"| fixed steps on {scale.device.type}: timesteps; same frames for one seed | {timesteps}; {same} |"
    )
