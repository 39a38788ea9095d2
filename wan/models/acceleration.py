"""Applying a ResolvedSpeed to a loaded pipeline, in two steps around the memory preset:

1. prepare_weights, before the weights are placed: a step-distilled LoRA fused into the
   transformer; fp8 storage when the weights setting says fp8 (diffusers' layerwise casting:
   weights kept in float8_e4m3fn and cast to the compute dtype layer by layer; saves memory,
   costs time);
2. apply_speed, after: the attention kernel pinned on the transformer, fp8 compute (torchao's
   dynamic float8 activations and weights on the Linear layers of the blocks), the step cache,
   and last regional torch.compile of the repeated blocks (so it compiles the hooks with them).

A two-expert pipeline (Wan 2.2 A14B) gets each of these on both experts; each expert has a step
cache of its own (it sees its own run of steps).

While a clip runs (AppliedSpeed.running), cuDNN autotunes its convolution algorithms on CUDA:
the VAE decode is a stack of 3D convolutions whose default algorithms are often not the fastest.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .attention import fastest_backend, set_backend
from .caching import StepCache
from .loading import experts
from .quantization import BF16, Weights, store_fp8
from .speed import ResolvedSpeed, SpeedUnavailable


@dataclass
class AppliedSpeed:
    """What was applied to a pipeline, and the per-clip duties of its step cache."""

    resolved: ResolvedSpeed
    attention: str
    attention_seconds: dict[str, float] = field(default_factory=dict)
    compiled: bool = False
    caches: list[StepCache] = field(default_factory=list)

    @property
    def cache(self) -> StepCache | None:
        """The step cache of the (first) transformer, if any."""
        return self.caches[0] if self.caches else None

    def record(self) -> dict[str, Any]:
        """JSON-ready description for the clip metadata."""
        record = self.resolved.to_dict() | {"attention": self.attention, "compile": self.compiled}
        if self.attention_seconds:
            record["attention_seconds"] = {k: round(v, 6) for k, v in self.attention_seconds.items()}
        if self.cache is not None:
            record |= self.cache.describe()
        return record

    @contextlib.contextmanager
    def running(self, device: Any) -> Iterator[None]:
        """Around one pipeline call: cuDNN autotuning on CUDA, and the step caches' needs."""
        import torch

        benchmark = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = benchmark or torch.device(device).type == "cuda"
        try:
            with contextlib.ExitStack() as stack:
                for cache in self.caches:
                    stack.enter_context(cache.running())
                yield
        finally:
            torch.backends.cudnn.benchmark = benchmark

    def after_clip(self) -> None:
        """Called after each clip (MagCache turns its calibration into ratios)."""
        for cache in self.caches:
            cache.after_clip()


def load_lora(pipe: Any, path: str) -> None:
    """Fuse a LoRA file into the transformer and drop its adapter layers (needs peft)."""
    if importlib.util.find_spec("peft") is None:
        raise SpeedUnavailable("speed_lora needs the peft package: pip install peft")
    if not Path(path).is_file():
        raise SpeedUnavailable(f"speed_lora: no such file: {path}")
    pipe.load_lora_weights(path, adapter_name="speed")
    pipe.fuse_lora(components=["transformer"], lora_scale=1.0)
    pipe.unload_lora_weights()


def prepare_weights(pipe: Any, speed: ResolvedSpeed, dtype: Any, weights: Weights = BF16) -> None:
    """Step 1 (see the module doc): before the memory preset places the weights."""
    if speed.lora:
        load_lora(pipe, speed.lora)
    if weights.format == "fp8":
        store_fp8(experts(pipe), dtype)


def quantize_fp8(transformer: Any) -> None:
    """torchao float8 dynamic activation + weight quantization of the blocks' Linear layers."""
    import torch
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_

    def in_blocks(module: Any, name: str) -> bool:
        return isinstance(module, torch.nn.Linear) and name.startswith(("blocks.", "vace_blocks."))

    quantize_(
        transformer, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()), filter_fn=in_blocks
    )


def _hooks_inside_blocks(transformer: Any) -> bool:
    repeated = set(getattr(transformer, "_repeated_blocks", ()) or ())
    for block in transformer.modules():
        if type(block).__name__ not in repeated:
            continue
        if any(getattr(m, "_diffusers_hook", None) and m._diffusers_hook.hooks for m in block.modules()):
            return True
    return False


def compile_blocks(transformer: Any) -> None:
    """Regional torch.compile of the repeated blocks; whole graphs unless hooks sit inside them."""
    transformer.compile_repeated_blocks(fullgraph=not _hooks_inside_blocks(transformer))


def apply_speed(pipe: Any, speed: ResolvedSpeed, device: Any, *, tokens: int, steps: int) -> AppliedSpeed:
    """Step 2 (see the module doc), for clips of up to `tokens` video tokens and `steps` steps."""
    transformers = experts(pipe)
    applied = AppliedSpeed(speed, speed.attention)
    if speed.attention == "fastest":
        config = transformers[0].config
        applied.attention, applied.attention_seconds = fastest_backend(
            device,
            heads=config.num_attention_heads,
            head_dim=config.attention_head_dim,
            tokens=tokens,
            dtype=transformers[0].dtype,
        )
    for transformer in transformers:
        set_backend(transformer, applied.attention)
        if speed.fp8 == "torchao":
            quantize_fp8(transformer)
        if speed.cache != "none":
            cache = StepCache(transformer, speed.cache, threshold=speed.cache_threshold, steps=steps)
            applied.caches.append(cache)
        if speed.compile:
            compile_blocks(transformer)
            applied.compiled = True
    return applied
