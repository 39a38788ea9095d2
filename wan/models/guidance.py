"""Guidance batching (lossless): the conditional and unconditional transformer passes of a
denoising step as one batch of 2 instead of two calls of batch 1.

diffusers' Wan pipelines call the transformer twice per step, first in cache context "cond"
with the prompt's embeddings, then in "uncond" with the negative prompt's, with every other
input the same tensor (the latents, the timestep, VACE's control latents and scale, I2V's image
embeddings). A diffusers hook on the transformer (its own forward in HookRegistry) does both in
the first call: it knows the negative embeddings of the clip (`GuidanceBatcher.armed`), runs
[cond, uncond] as one batch, returns the conditional half and keeps the other; the second call
returns the kept half when its inputs are the ones batched (the same tensors, or equal ones, and
the same negative embeddings), else it runs as usual. The pipeline is not changed.

The numbers are the same computation, row for row; a kernel may sum in another order at batch 2,
so outputs agree to float rounding (tests/test_guidance.py measures it). It costs the activations
of a second sample at once: the memory presets that keep everything on the GPU turn it on (none,
conservative; `memory_batch_guidance` overrides). A step cache turns it off: diffusers' caches
(First Block, MagCache, TaylorSeer, SeaCache) keep separate state per cache context and decide
per call whether to skip; a batch would merge the two decisions, so the output would no longer be
that of the unbatched cached run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..config.memory import MemoryPreset

HOOK_NAME = "wan_guidance_batching"
# Inputs that carry the batch dimension; the rest (attention_kwargs, VACE's per-layer scale,
# return_dict) are the same for both halves.
BATCHED_INPUTS = (
    "hidden_states",
    "timestep",
    "encoder_hidden_states",
    "encoder_hidden_states_image",
    "control_hidden_states",
)


@dataclass(frozen=True)
class BatchingDecision:
    """Whether a render batches guidance, and why not when it does not."""

    enabled: bool
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the clip metadata."""
        return {"enabled": self.enabled, "reason": self.reason} if self.reason else {"enabled": self.enabled}


def decide_batching(memory: MemoryPreset, setting: str, *, cache: str, guidance: float) -> BatchingDecision:
    """Batching for a memory preset, the `memory_batch_guidance` setting (auto, on, off), the
    step cache in effect and the guidance scale (see the module doc)."""
    if guidance <= 1:
        return BatchingDecision(False, "guidance_scale 1 or less: one transformer pass per step")
    if setting == "off":
        return BatchingDecision(False, "memory_batch_guidance is off")
    if cache != "none":
        return BatchingDecision(
            False, f"the {cache} step cache keeps separate conditional and unconditional state"
        )
    if setting == "on" or memory.batch_guidance:
        return BatchingDecision(True)
    return BatchingDecision(False, f"the {memory.name} memory preset keeps activations small")


def _same(a: Any, b: Any) -> bool:
    import torch

    if a is b:
        return True
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and bool(torch.equal(a, b))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return False
    return a == b


def _hook_class() -> type:
    import torch
    from diffusers.hooks.hooks import BaseState, ModelHook, StateManager

    class _NoState(BaseState):
        def reset(self, *args: Any, **kwargs: Any) -> None:
            return None

    class BatchGuidanceHook(ModelHook):
        """See the module doc. Stateful, so that diffusers' cache_context tells it which call
        ("cond" or "uncond") runs."""

        _is_stateful = True

        def __init__(self) -> None:
            super().__init__()
            self.context = StateManager(_NoState)
            self.negative: Any = None  # the clip's negative embeddings (None: disarmed)
            self.prepared: Any = None  # ... on the device, in the dtype of the inputs
            self.kept: tuple[dict[str, Any], Any] | None = None
            self.confirmed: Any = None  # the pipeline's negative embeddings, once found equal
            self.batched_calls = 0
            self.reused_calls = 0
            self.pair: Any = None  # runs the two passes elsewhere (CFG parallel) instead of a batch

        def reset_state(self, module: Any) -> Any:
            self.kept = None
            return module

        def _name(self) -> str | None:
            try:
                return self.context.context.name
            except ValueError:  # called outside a cache_context: not a pipeline's guidance call
                return None

        def new_forward(self, module: Any, *args: Any, **kwargs: Any) -> Any:
            forward = self.fn_ref.original_forward
            name = self._name()
            if self.negative is None or args or name not in ("cond", "uncond"):
                self.kept = None
                return forward(*args, **kwargs)
            if name == "uncond":
                kept, self.kept = self.kept, None
                if kept is not None and self._matches(kept[0], kwargs):
                    self.confirmed = kwargs["encoder_hidden_states"]
                    self.reused_calls += 1
                    return kept[1]
                return forward(*args, **kwargs)
            return self._batched(forward, kwargs)

        def _negative_like(self, positive: Any) -> Any:
            prepared = self.prepared
            if prepared is None or prepared.device != positive.device or prepared.dtype != positive.dtype:
                prepared = self.prepared = self.negative.to(device=positive.device, dtype=positive.dtype)
            return prepared

        def _batched(self, forward: Any, kwargs: dict[str, Any]) -> Any:
            positive = kwargs.get("encoder_hidden_states")
            hidden = kwargs.get("hidden_states")
            if positive is None or hidden is None or positive.shape != self.negative.shape:
                return forward(**kwargs)
            negative = self._negative_like(positive)
            if self.pair is not None:  # the two passes on two processes (wan.parallel.guidance)
                output, cond, uncond = self.pair(forward, kwargs, negative)
            else:
                doubled = dict(kwargs)
                for key in BATCHED_INPUTS:
                    value = kwargs.get(key)
                    if isinstance(value, torch.Tensor) and value.ndim:
                        other = negative if key == "encoder_hidden_states" else value
                        doubled[key] = torch.cat([value, other])
                output = forward(**doubled)
                sample = output[0] if isinstance(output, tuple) else output.sample
                size = hidden.shape[0]
                cond, uncond = sample[:size], sample[size:]
            # the same tensor as last step's (when confirmed equal) is checked by identity
            expected = dict(kwargs) | {
                "encoder_hidden_states": negative if self.confirmed is None else self.confirmed
            }
            self.kept = (expected, self._wrapped(output, uncond))
            self.batched_calls += 1
            return self._wrapped(output, cond)

        @staticmethod
        def _wrapped(output: Any, sample: Any) -> Any:
            if isinstance(output, tuple):
                return (sample, *output[1:])
            return type(output)(sample=sample)

        @staticmethod
        def _matches(expected: dict[str, Any], kwargs: dict[str, Any]) -> bool:
            if set(expected) != set(kwargs):
                return False
            return all(_same(expected[key], kwargs[key]) for key in kwargs)

    return BatchGuidanceHook


class GuidanceBatcher:
    """The batching hook on every transformer of a pipeline (Wan 2.2 has two)."""

    def __init__(self, pipe: Any, *, pair: Any = None) -> None:
        """`pair`: a runner of both passes (wan.parallel.guidance.CfgSplit) instead of a batch."""
        from diffusers.hooks import HookRegistry

        hook_class = _hook_class()
        self.hooks = []
        for name in ("transformer", "transformer_2"):
            transformer = getattr(pipe, name, None)
            if transformer is None:
                continue
            registry = HookRegistry.check_if_exists_or_initialize(transformer)
            hook = registry.get_hook(HOOK_NAME)
            if hook is None:
                hook = hook_class()
                registry.register_hook(hook, HOOK_NAME)
            hook.pair = pair
            self.hooks.append(hook)

    @contextlib.contextmanager
    def armed(self, negative_embeddings: Any) -> Iterator[None]:
        """Batch the calls of the block with these negative prompt embeddings (one clip)."""
        for hook in self.hooks:
            hook.negative, hook.prepared, hook.kept, hook.confirmed = negative_embeddings, None, None, None
        try:
            yield
        finally:
            for hook in self.hooks:
                hook.negative = hook.prepared = hook.kept = hook.confirmed = None

    def counts(self) -> dict[str, int]:
        """Batched calls and unconditional calls answered from a batch, over every transformer."""
        return {
            "batched_calls": sum(h.batched_calls for h in self.hooks),
            "reused_calls": sum(h.reused_calls for h in self.hooks),
        }


def remove_guidance_batching(pipe: Any) -> None:
    """Take the batching hook off the pipeline's transformers."""
    for name in ("transformer", "transformer_2"):
        transformer = getattr(pipe, name, None)
        registry = getattr(transformer, "_diffusers_hook", None)
        if registry is not None and registry.get_hook(HOOK_NAME) is not None:
            registry.remove_hook(HOOK_NAME, recurse=False)
