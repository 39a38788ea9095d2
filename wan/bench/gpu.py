"""GPU measurements on the real Wan architectures with random weights (timing does not depend on
the weights, so nothing is downloaded), each returning Markdown lines for RESULTS.md; the same
code runs at tiny sizes on the CPU (`Scale.small`) so that it is checked without a GPU.

- forward_rows: one transformer forward per attention kernel: seconds, TFLOP/s (FLOP from
  wan.models.flops), MFU against the measured matmul peak, the largest difference from PyTorch's
  default kernel; and one forward at batch 2 against two at batch 1.
- compile_rows: regional torch.compile of the repeated blocks: the first call, later calls.
- path_rows: stock diffusers against speed presets over a few denoising steps (the first call
  warms up and compiles; each step timed), the steady step time extrapolated to the full steps,
  MFU of both guidance passes, the largest difference of the latents from stock; the quality
  preset also without guidance batching.
- guidance_rows: whole pipeline calls with guidance batched and not, taking turns.
- vae_lines: the VAE decode of one clip, without and with cuDNN autotuning.
- memory_rows: each memory preset's peak GPU memory and time for a few steps and the decode.
- fp8_rows: a forward in bf16, with torchao's fp8 compute, and with fp8 storage (layerwise).

forward_model, forward_inputs, forward_of and relative_difference are the pieces the other
measuring modules (wan.bench.weights, wan.bench.loras) share.
"""

from __future__ import annotations

import contextlib
import gc
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import MEMORY_PRESETS, SpeedOptions
from ..models.acceleration import apply_speed, compile_blocks, prepare_weights, quantize_fp8
from ..models.architectures import TEXT_TOKENS, latent_shape, transformer_inputs
from ..models.attention import candidate_backends, set_backend
from ..models.flops import transformer_flops, video_tokens
from ..models.guidance import GuidanceBatcher, decide_batching
from ..models.loading import apply_memory, free_memory
from ..models.speed import DeviceInfo, resolve_speed
from ..models.tiny import TINY_KINDS, tiny_transformer_config
from ..render.stages import PipelineCallTimer, StageRecorder, steady_step_seconds
from .build import build_pipeline, build_vae, sliced_config, tiny_stand_in
from .timing import synchronizer, take_turns, timed

GIB = 1024**3


@dataclass(frozen=True)
class Scale:
    """Where and at what size the measurements run: the real architectures in bf16 on CUDA, or
    their tiny stand-ins in float32 on the CPU (`small`)."""

    device: Any
    dtype: Any
    frames: int
    height: int
    width: int
    matmul_size: int
    small: bool

    @classmethod
    def gpu(cls, frames: int = 81, height: int = 480, width: int = 832) -> Scale:
        """Real sizes on the first CUDA GPU."""
        import torch

        return cls(torch.device("cuda"), torch.bfloat16, frames, height, width, 8192, False)

    @classmethod
    def tiny(cls, frames: int = 17, height: int = 64, width: int = 64) -> Scale:
        """The tiny models on the CPU: checks the code, measures nothing about a GPU."""
        import torch

        return cls(torch.device("cpu"), torch.float32, frames, height, width, 512, True)

    def sync(self) -> None:
        """Wait for the device's queued work."""
        synchronizer(self.device)()

    def model(self, model: str) -> str:
        """The model that runs for `model`: itself, or its tiny stand-in."""
        return tiny_stand_in(model) if self.small else model

    def label(self, model: str) -> str:
        """How a row names the model."""
        return f"{self.model(model)} (for {model})" if self.small else model

    def config(self, model: str, *, blocks: int | None = None) -> dict[str, Any]:
        """The transformer configuration that runs for `model` (its first `blocks` blocks only,
        when given: see build.sliced_config)."""
        from ..models.architectures import transformer_config

        config = (
            tiny_transformer_config(TINY_KINDS[self.model(model)])
            if self.small
            else transformer_config(model)
        )
        return config if blocks is None else sliced_config(config, blocks)

    def pipeline(self, model: str, *, place: Any = None) -> Any:
        """The model's pipeline without a text encoder (prompts come as embeddings), on `place`."""
        return build_pipeline(
            self.model(model), device=place or self.device, dtype=self.dtype, text_encoder=False
        )

    def embeddings(self, model: str) -> tuple[Any, Any]:
        """Fixed random (prompt, negative prompt) embeddings for the model's text width."""
        import torch

        width = self.config(model)["text_dim"]
        pair = torch.randn(2, 1, TEXT_TOKENS, width, generator=torch.Generator().manual_seed(2))
        return pair[0].to(self.device, self.dtype), pair[1].to(self.device, self.dtype)

    def flop(self, model: str, *, passes: int = 1) -> float:
        """FLOP of `passes` forwards of the model at this size."""
        return passes * transformer_flops(self.config(model), self.frames, self.height, self.width).total


def relative_difference(output: Any, reference: Any) -> float:
    """The largest difference of `output` from `reference`, relative to the reference's largest value."""
    return float(
        (output.float() - reference.float()).abs().max() / reference.float().abs().max().clamp_min(1e-12)
    )


def _rate(flop: float, seconds: float, peak: float) -> str:
    return f"{flop / seconds / 1e12:.3g} | {flop / seconds / peak:.0%}"


def _conditioning(scale: Scale, model: str) -> dict[str, Any]:
    from PIL import Image

    kind = TINY_KINDS[tiny_stand_in(model)]
    if kind != "i2v":
        return {}
    return {"image": Image.fromarray(np.full((scale.height, scale.width, 3), 128, np.uint8))}


def _generate(
    scale: Scale,
    model: str,
    pipe: Any,
    *,
    steps: int,
    batcher: Any = None,
    output_type: str = "latent",
    callback: Any = None,
) -> Any:
    """One pipeline call from fixed random embeddings and seed, guidance 5 (batched with `batcher`)."""
    import torch

    positive, negative = scale.embeddings(model)
    armed = batcher.armed(negative) if batcher is not None else contextlib.nullcontext()
    extra = {"callback_on_step_end": callback} if callback is not None else {}
    with armed:
        return pipe(
            prompt_embeds=positive,
            negative_prompt_embeds=negative,
            height=scale.height,
            width=scale.width,
            num_frames=scale.frames,
            num_inference_steps=steps,
            guidance_scale=5.0,
            generator=torch.Generator().manual_seed(0),
            output_type=output_type,
            **extra,
            **_conditioning(scale, model),
        )


def first_error_line(error: BaseException) -> str:
    """An error's first line, at most 100 characters (for a table cell)."""
    return (str(error).splitlines() or [type(error).__name__])[0][:100]


# -- one forward ---------------------------------------------------------------------------------


def forward_inputs(scale: Scale, config: dict[str, Any]) -> dict[str, Any]:
    """Random inputs of one forward of a transformer of `config` at this size."""
    return transformer_inputs(
        config,
        frames=scale.frames,
        height=scale.height,
        width=scale.width,
        device=scale.device,
        dtype=scale.dtype,
    )


def forward_model(
    scale: Scale, model: str, *, blocks: int | None = None, place: Any = None
) -> tuple[Any, dict[str, Any]]:
    """The model's transformer with random weights (its first `blocks` blocks only, when given),
    built on `place` (default: the scale's device), and the inputs of one forward."""
    from ..models.architectures import build_random_transformer

    config = scale.config(model, blocks=blocks)
    built = build_random_transformer(config, device=place or scale.device, dtype=scale.dtype)
    return built, forward_inputs(scale, config)


def forward_of(transformer: Any, inputs: dict[str, Any]) -> Callable[[], Any]:
    """A call of one forward without gradients, returning the output tensor."""
    import torch

    def forward() -> Any:
        with torch.no_grad():
            return transformer(**inputs)[0]

    return forward


def forward_rows(scale: Scale, model: str, peak: float, repeats: int) -> list[str]:
    """Rows `| model | attention | seconds | TFLOP/s | MFU | difference |` (see the module doc)."""
    import torch

    transformer, inputs = forward_model(scale, model)
    flop = scale.flop(model)
    name = scale.label(model)

    def forward(batch: dict[str, Any] = inputs) -> Any:
        with torch.no_grad():
            return transformer(**batch)[0]

    rows, timings, reference = [], {}, None
    for backend in candidate_backends(scale.device):
        set_backend(transformer, backend)
        try:
            output = forward()
            timings[backend] = statistics.median(timed(forward, repeats, scale.sync))
        except (RuntimeError, ValueError) as error:
            rows.append(f"| {name} | {backend} | fails: {first_error_line(error)} | | | |")
            continue
        reference = output if reference is None else reference
        shown = "0" if output is reference else f"{relative_difference(output, reference):.1e}"
        label = f"{backend} (stock)" if backend == "native" else backend
        rows.append(
            f"| {name} | {label} | {timings[backend]:.3g} | {_rate(flop, timings[backend], peak)} | {shown} |"
        )
    best = min(timings, key=timings.__getitem__)
    set_backend(transformer, best)
    doubled = {k: torch.cat([v, v]) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
    forward(doubled)
    pair = statistics.median(timed(lambda: forward(doubled), repeats, scale.sync))
    ratio = pair / (2 * timings[best])
    rows.append(
        f"| {name} | {best}, batch 2 in one call ({ratio:.2f}x two batch-1 calls) | {pair / 2:.3g} "
        f"| {_rate(flop, pair / 2, peak)} | per sample |"
    )
    return rows


def compile_rows(scale: Scale, model: str, peak: float, repeats: int) -> list[str]:
    """Rows of the same table for regional torch.compile (first call, later calls)."""

    transformer, inputs = forward_model(scale, model)
    forward = forward_of(transformer, inputs)
    reference = forward()
    eager = statistics.median(timed(forward, repeats, scale.sync))
    if scale.small:  # the wiring only: Inductor on 2 CPU cores takes longer than the whole dry run
        transformer.compile_repeated_blocks(fullgraph=True, backend="eager")
    else:
        compile_blocks(transformer)
    first = timed(forward, 1, scale.sync)[0]
    compiled = statistics.median(timed(forward, repeats, scale.sync))
    flop, name = scale.flop(model), scale.label(model)
    return [
        f"| {name} | native, eager | {eager:.3g} | {_rate(flop, eager, peak)} | 0 |",
        f"| {name} | native + regional compile (first call {first:.1f} s) | {compiled:.3g} "
        f"| {_rate(flop, compiled, peak)} | {relative_difference(forward(), reference):.1e} |",
    ]


# -- denoising steps: stock diffusers against the presets ------------------------------------------


@dataclass
class _Path:
    label: str
    pipe: Any
    applied: Any = None
    batcher: Any = None
    batched: bool = False


def _steps(scale: Scale, model: str, path: _Path, steps: int) -> tuple[list[float], Any]:
    """Each step's seconds and the latents of one pipeline call."""
    timer = PipelineCallTimer(StageRecorder(scale.device), [path.pipe.transformer], steps)
    running = path.applied.running(scale.device) if path.applied else contextlib.nullcontext()
    with running, timer:
        output = _generate(
            scale,
            model,
            path.pipe,
            steps=steps,
            batcher=path.batcher if path.batched else None,
            callback=lambda _p, step, _t, _k: (timer.step_done(step), {})[1],
        )
    if path.applied:
        path.applied.after_clip()
    return timer.step_seconds, output.frames


def _preset_path(scale: Scale, model: str, preset: str) -> list[_Path]:
    pipe = scale.pipeline(model)
    kind = TINY_KINDS[tiny_stand_in(model)]
    resolved = resolve_speed(
        SpeedOptions(preset=preset), DeviceInfo.probe(scale.device), offload="none", kind=kind
    )
    prepare_weights(pipe, resolved, scale.dtype)
    tokens = video_tokens(pipe.transformer.config, scale.frames, scale.height, scale.width)
    applied = apply_speed(pipe, resolved, scale.device, tokens=tokens, steps=50)
    decision = decide_batching(MEMORY_PRESETS["none"], "auto", cache=resolved.cache, guidance=5.0)
    batcher = GuidanceBatcher(pipe) if decision.enabled else None
    paths = [
        _Path(preset + (" (guidance batched)" if batcher else ""), pipe, applied, batcher, bool(batcher))
    ]
    if batcher:
        paths.append(_Path(f"{preset}, guidance in two calls", pipe, applied, batcher, False))
    return paths


def path_rows(
    scale: Scale, model: str, presets: Sequence[str], *, steps: int, target: int, peak: float
) -> list[str]:
    """Rows `| path | first call s | s/step | denoising, target steps | TFLOP/s | MFU | speed-up |
    max latent difference | applied |` (see the module doc). Each path's pipeline is built, warmed
    up by a 1-step call (which compiles), then runs `steps` steps; the paths run one after the
    other, each freed before the next is built."""
    flop = scale.flop(model, passes=2)
    rows, reference, stock = [], None, None
    builders: list[tuple[str, Callable[[], list[_Path]]]] = [
        ("stock", lambda: [_Path("stock diffusers", scale.pipeline(model))])
    ]
    builders += [(preset, lambda preset=preset: _preset_path(scale, model, preset)) for preset in presets]
    for name, build in builders:
        try:
            paths = build()
        except Exception as error:  # a path that cannot be built is a row, not the end
            rows.append(f"| {name} | fails: {first_error_line(error)} | | | | | | | |")
            continue
        for path in paths:
            first = timed(lambda path=path: _steps(scale, model, path, 1), 1, scale.sync)[0]
            seconds, latents = _steps(scale, model, path, steps)
            steady = steady_step_seconds(seconds) or 0.0
            whole = seconds[0] + steady * (target - 1)
            stock = whole if stock is None else stock
            reference = latents if reference is None else reference
            what = _applied(path)
            rows.append(
                f"| {path.label} | {first:.2f} | {steady:.3g} | {whole:.1f} | {_rate(flop, steady, peak)} "
                f"| {stock / whole:.2f}x | {relative_difference(latents, reference):.1e} | {what} |"
            )
        del paths
        gc.collect()
        free_memory()
    return rows


def _applied(path: _Path) -> str:
    if path.applied is None:
        return "diffusers defaults"
    record = path.applied.record()
    parts = [f"attention {record['attention']}", f"compile {'on' if record['compile'] else 'off'}"]
    if record["cache"] != "none":
        parts.append(f"{record['cache']} {record['cache_threshold']}")
    if record["fp8"] != "off":
        parts.append(f"fp8 {record['fp8']}")
    return ", ".join(parts + list(record["notes"]))


def guidance_rows(scale: Scale, models: Sequence[str], *, steps: int, repeats: int) -> list[str]:
    """Rows `| model | two calls s | batched s | time ratio | max difference |`: whole pipeline
    calls (decode included) with guidance batched and not, taking turns, medians."""

    rows = []
    for model in models:
        pipe = scale.pipeline(model)
        batcher = GuidanceBatcher(pipe)

        def call(batched: bool, pipe: Any = pipe, batcher: Any = batcher, model: str = model) -> Any:
            chosen = batcher if batched else None
            return _generate(scale, model, pipe, steps=steps, batcher=chosen, output_type="np").frames[0]

        seconds, frames = take_turns(
            {"two": lambda call=call: call(False), "batched": lambda call=call: call(True)},
            repeats,
            scale.sync,
        )
        two, one = statistics.median(seconds["two"]), statistics.median(seconds["batched"])
        difference = float(np.abs(np.asarray(frames["two"]) - np.asarray(frames["batched"])).max())
        rows.append(f"| {scale.label(model)} | {two:.3f} | {one:.3f} | {one / two:.2f}x | {difference:.1e} |")
        del pipe, batcher
        free_memory()
    return rows


def vae_lines(scale: Scale) -> list[str]:
    """The VAE decode of one clip's latents, without and with cuDNN autotuning."""
    import torch

    vae = build_vae(scale.device, tiny=scale.small)
    latents = torch.randn(1, vae.config.z_dim, *latent_shape(scale.frames, scale.height, scale.width))
    latents = latents.to(scale.device)
    figures = {}
    for benchmark in (False, True):
        torch.backends.cudnn.benchmark = benchmark
        with torch.no_grad():
            vae.decode(latents)  # warm-up (and the autotuning)
            figures[benchmark] = statistics.median(timed(lambda: vae.decode(latents), 2, scale.sync))
    torch.backends.cudnn.benchmark = False
    where = " (no effect on the CPU)" if scale.device.type != "cuda" else ""
    return [
        f"- VAE decode of {scale.frames} frames at {scale.width}x{scale.height} (float32): "
        f"{figures[False]:.2f} s; with cuDNN autotuning{where} {figures[True]:.2f} s "
        f"({figures[False] / figures[True]:.2f}x)"
    ]


# -- memory presets ------------------------------------------------------------------------------


def _peak_gib(scale: Scale) -> str:
    import torch

    if scale.device.type != "cuda":
        return "n/a on the CPU"
    return f"{torch.cuda.max_memory_allocated(scale.device) / GIB:.2f} GiB"


def _preset_run(scale: Scale, model: str, preset: str, steps: int, *, decode: bool) -> tuple[float, str]:
    """(seconds, peak GiB) of `steps` steps (and the decode) of `model` under a memory preset; the
    weights start on the CPU, as a render's do."""
    import torch

    memory = MEMORY_PRESETS[preset]
    pipe = scale.pipeline(model)  # built on the device (fast), then moved as a loaded model is
    pipe.to("cpu")
    free_memory()
    apply_memory(pipe, memory, scale.device)
    decision = decide_batching(memory, "auto", cache="none", guidance=5.0)
    batcher = GuidanceBatcher(pipe) if decision.enabled else None
    if scale.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(scale.device)

    def call() -> Any:
        return _generate(
            scale, model, pipe, steps=steps, batcher=batcher, output_type="np" if decode else "latent"
        )

    seconds = timed(call, 1, scale.sync)[0]
    return seconds, _peak_gib(scale)


def memory_rows(
    scale: Scale, model: str, steps: int, presets: Sequence[str] = tuple(MEMORY_PRESETS)
) -> list[str]:
    """Rows `| preset | placement | guidance | seconds | peak GiB |` (`steps` steps and the decode)."""
    rows = []
    for name in presets:
        memory = MEMORY_PRESETS[name]
        placement = f"{memory.offload}, VAE tiling {'on' if memory.vae_tiling else 'off'}"
        guidance = "batched" if memory.batch_guidance else "2 calls"
        try:
            seconds, peak = _preset_run(scale, model, name, steps, decode=True)
        except (RuntimeError, ValueError) as error:
            rows.append(f"| {name} | {placement} | {guidance} | fails: {first_error_line(error)} | |")
            continue
        finally:
            gc.collect()
            free_memory()
        rows.append(f"| {name} | {placement} | {guidance} | {seconds:.1f} | {peak.removesuffix(' GiB')} |")
    return rows


def single_step_line(scale: Scale, model: str, preset: str) -> str:
    """One denoising step (both guidance passes, no decode) of `model` under a memory preset."""
    seconds, peak = _preset_run(scale, model, preset, 1, decode=False)
    gc.collect()
    free_memory()
    return (
        f"- {scale.label(model)}, one step at {scale.frames} frames of {scale.width}x{scale.height} under "
        f"{preset} (weights from the CPU): {seconds:.1f} s (a first call: offload hooks included), "
        f"peak {peak}"
    )


# -- fp8 -----------------------------------------------------------------------------------------


def fp8_rows(scale: Scale, model: str, peak: float, repeats: int) -> list[str]:
    """Rows `| model | weights | seconds | TFLOP/s | MFU | difference | weight GiB |`: bf16, torchao
    fp8 compute (CUDA, compute capability 8.9+, torchao), fp8 storage (diffusers' layerwise casting)."""
    import torch

    flop, name = scale.flop(model), scale.label(model)
    device = DeviceInfo.probe(scale.device)
    rows, reference = [], None
    for mode in ("bf16", "torchao", "layerwise"):
        if mode == "torchao" and not (device.fp8_compute and device.torchao):
            reason = (
                "needs compute capability 8.9+ and torchao" if not device.fp8_compute else "needs torchao"
            )
            rows.append(f"| {name} | fp8 compute (torchao) | not run: {reason} | | | | |")
            continue
        transformer, inputs = forward_model(scale, model)
        if mode == "torchao":
            quantize_fp8(transformer)
        elif mode == "layerwise":
            transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=scale.dtype)

        forward = forward_of(transformer, inputs)
        try:
            output = forward()
            seconds = statistics.median(timed(forward, repeats, scale.sync))
        except (RuntimeError, ValueError, NotImplementedError) as error:
            rows.append(f"| {name} | {mode} | fails: {first_error_line(error)} | | | | |")
            continue
        reference = output if reference is None else reference
        try:
            weights = f"{sum(p.numel() * p.element_size() for p in transformer.parameters()) / GIB:.2f}"
        except (RuntimeError, TypeError, NotImplementedError):  # a tensor subclass that will not say
            weights = "?"
        label = {"bf16": str(scale.dtype).removeprefix("torch."), "torchao": "fp8 compute (torchao)"}.get(
            mode, "fp8 storage (layerwise)"
        )
        rows.append(
            f"| {name} | {label} | {seconds:.3g} | {_rate(flop, seconds, peak)} "
            f"| {relative_difference(output, reference):.1e} | {weights} |"
        )
        del transformer, inputs
        free_memory()
    return rows
