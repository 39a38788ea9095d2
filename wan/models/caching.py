"""Step caches (lossy): diffusers' hooks that reuse work of earlier denoising steps.

- first_block: First Block Cache: when the first block's residual changed by less than the
  threshold (relative mean absolute difference), the other blocks are skipped and their last
  residual reused.
- mag: MagCache: skips while the accumulated change predicted by per-step "magnitude ratios"
  stays under the threshold. The ratios depend on the model, so the first clip of a session
  is a calibration run (no skipping; its ratios are measured), and later clips use them.
- taylorseer: TaylorSeer, lite variant: after 3 full steps, every 5th step runs the model and the
  steps between predict its output by a first-order Taylor expansion (all blocks skipped).
  The full variant caches every attention output: gigabytes per block at 81 frames.
- sea: SeaCache: First-Block-like reuse decided on a spectrally filtered input (T2V only:
  diffusers has its adapter for WanTransformer3DModel, and only WanPipeline passes the sigmas).

In diffusers 0.42.1 the block-residual caches (first_block, mag) miscount VACE: the model adds
each VACE hint to the hidden states between blocks, outside the cached block stack, so a skipped
step adds every hint twice (once inside the reused residual). `fold_vace_hints` moves each hint
addition into the block before it (same arithmetic, same order) so the caches see it.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import statistics
from collections.abc import Iterator
from typing import Any

BLOCK_RESIDUAL_CACHES = ("first_block", "mag")
TAYLORSEER_INTERVAL = 5
TAYLORSEER_WARMUP = 3
_MAG_RATIOS: dict[tuple[str, str, int], list[float]] = {}
_HINT_HOOK = "wan_vace_hint"
_HINT_SOURCE_HOOK = "wan_vace_hint_source"
_HINT_SCALE_HOOK = "wan_vace_hint_scale"


def cache_config(name: str, *, threshold: float | None, steps: int, mag_ratios: list[float] | None) -> Any:
    """The diffusers config of cache `name`; MagCache calibrates when it has no ratios."""
    import torch
    from diffusers.hooks import FirstBlockCacheConfig, MagCacheConfig, SeaCacheConfig, TaylorSeerCacheConfig

    if name == "first_block":
        return FirstBlockCacheConfig(threshold=threshold)
    if name == "mag":
        if mag_ratios is None:
            return MagCacheConfig(threshold=threshold, num_inference_steps=steps, calibrate=True)
        return MagCacheConfig(threshold=threshold, num_inference_steps=steps, mag_ratios=mag_ratios)
    if name == "taylorseer":
        return TaylorSeerCacheConfig(
            cache_interval=TAYLORSEER_INTERVAL,
            disable_cache_before_step=TAYLORSEER_WARMUP,
            taylor_factors_dtype=torch.float32,
            use_lite_mode=True,
        )
    if name == "sea":
        return SeaCacheConfig(threshold=threshold)
    raise ValueError(f"unknown step cache {name!r}")


class _Hints:
    """The VACE hints and their scales of the forward in progress."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.scales: tuple[Any, ...] = ()


def _hook_classes() -> tuple[type, type, type]:
    import torch
    from diffusers.hooks import ModelHook

    class TakeScales(ModelHook):
        """On the transformer: keeps the hint scales and passes zeros to its own additions."""

        def __init__(self, hints: _Hints, signature: inspect.Signature) -> None:
            super().__init__()
            self.hints, self.signature = hints, signature

        def pre_forward(self, module: Any, *args: Any, **kwargs: Any) -> tuple[tuple, dict]:
            bound = self.signature.bind(module, *args, **kwargs).arguments
            bound.pop("self")
            scale = bound.get("control_hidden_states_scale")
            if scale is None:
                scale = bound["control_hidden_states"].new_ones(len(module.config.vace_layers))
            self.hints.values, self.hints.scales = [], tuple(torch.unbind(scale))
            bound["control_hidden_states_scale"] = torch.zeros_like(scale)
            return (), bound

    class KeepHint(ModelHook):
        """On a VACE block: records the hint it makes."""

        def __init__(self, hints: _Hints) -> None:
            super().__init__()
            self.hints = hints

        def post_forward(self, module: Any, output: Any) -> Any:
            self.hints.values.append(output[0])
            return output

    class AddHint(ModelHook):
        """On a transformer block followed by a hint: adds it, inside the block."""

        def __init__(self, hints: _Hints, index: int) -> None:
            super().__init__()
            self.hints, self.index = hints, index

        def post_forward(self, module: Any, output: Any) -> Any:
            hint = self.hints.values[self.index]
            return output + hint.to(output.device) * self.hints.scales[self.index]

    return TakeScales, KeepHint, AddHint


def fold_vace_hints(transformer: Any) -> bool:
    """Make each VACE hint part of the block it follows (see the module doc); False for models
    without VACE blocks. Call before enabling a cache, so these hooks run inside the cache's."""
    from diffusers.hooks import HookRegistry

    layers = list(getattr(transformer.config, "vace_layers", None) or ())
    if not layers or HookRegistry.check_if_exists_or_initialize(transformer).get_hook(_HINT_SCALE_HOOK):
        return bool(layers)
    take_scales, keep_hint, add_hint = _hook_classes()
    hints = _Hints()
    signature = inspect.signature(type(transformer).forward)
    HookRegistry.check_if_exists_or_initialize(transformer).register_hook(
        take_scales(hints, signature), _HINT_SCALE_HOOK
    )
    for block in transformer.vace_blocks:
        HookRegistry.check_if_exists_or_initialize(block).register_hook(keep_hint(hints), _HINT_SOURCE_HOOK)
    for index, layer in enumerate(layers):
        registry = HookRegistry.check_if_exists_or_initialize(transformer.blocks[layer])
        registry.register_hook(add_hint(hints, index), _HINT_HOOK)
    return True


class StepCache:
    """One step cache on a transformer, with MagCache's calibration on the first clip."""

    def __init__(self, transformer: Any, name: str, *, threshold: float | None, steps: int) -> None:
        self.transformer, self.name, self.threshold, self.steps = transformer, name, threshold, steps
        self.folded = False
        self._recorded: dict[int, list[float]] = {}
        config = transformer.config
        self._key = (type(transformer).__name__, str(getattr(config, "_name_or_path", "")), steps)
        if name in BLOCK_RESIDUAL_CACHES:
            self.folded = fold_vace_hints(transformer)
        self._enable(_MAG_RATIOS.get(self._key) if name == "mag" else None)

    @property
    def calibrating(self) -> bool:
        """Whether this clip is MagCache's calibration run (nothing is skipped)."""
        return self.name == "mag" and self._key not in _MAG_RATIOS

    def _enable(self, ratios: list[float] | None) -> None:
        if self.transformer.is_cache_enabled:
            self.transformer.disable_cache()
        config = cache_config(self.name, threshold=self.threshold, steps=self.steps, mag_ratios=ratios)
        self.transformer.enable_cache(config)
        if self.name == "mag" and ratios is None:
            self._record_calibration()

    def _record_calibration(self) -> None:
        from diffusers.hooks.mag_cache import _MAG_CACHE_BLOCK_HOOK

        for module in self.transformer.modules():
            registry = getattr(module, "_diffusers_hook", None)
            hook = registry.get_hook(_MAG_CACHE_BLOCK_HOOK) if registry is not None else None
            if hook is None or not hook.is_tail:
                continue
            measure = hook._perform_calibration_step

            def record(state: Any, residual: Any, measure: Any = measure) -> None:
                measure(state, residual)
                self._recorded.setdefault(id(state), []).append(state.calibration_ratios[-1])

            hook._perform_calibration_step = record

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Around a pipeline call: MagCache prints its calibration to stdout; keep it off ours."""
        if not self.calibrating:
            yield
            return
        with contextlib.redirect_stdout(io.StringIO()):
            yield

    def after_clip(self) -> None:
        """After a clip: a finished calibration becomes the ratios of the following clips."""
        if not self.calibrating:
            return
        runs = [ratios for ratios in self._recorded.values() if len(ratios) == self.steps]
        self._recorded.clear()
        if runs:  # cond and uncond measured separately; diffusers takes one list for both
            _MAG_RATIOS[self._key] = [statistics.fmean(values) for values in zip(*runs, strict=True)]
            self._enable(_MAG_RATIOS[self._key])

    def describe(self) -> dict[str, Any]:
        """What the cache does, for the clip's metadata."""
        described: dict[str, Any] = {"cache": self.name, "cache_threshold": self.threshold}
        if self.name == "taylorseer":
            described |= {"refresh_every": TAYLORSEER_INTERVAL, "full_steps_first": TAYLORSEER_WARMUP}
        if self.name == "mag":
            described["mag_calibration_run"] = self.calibrating
        if self.folded:
            described["vace_hints_folded"] = True
        return described
