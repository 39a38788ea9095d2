"""Loading LoRAs into a Wan pipeline: the one way a LoRA is loaded (the `loras` setting and the
step-distilled LoRA of a speed preset alike).

1. Each file is read once with diffusers' own reader (`WanLoraLoaderMixin.lora_state_dict`), which
   converts the original / ComfyUI / Kijai keys (`diffusion_model.`, lora_down/up, `.alpha`,
   `diff_b`) and musubi-tuner / kohya keys (`lora_unet_`) to diffusers' keys.
2. Every key must name a layer of the expert(s) it goes into; a key that matches nothing is a
   LoraError naming the file and a few keys (diffusers would skip it with a log line at most).
   VACE takes T2V LoRAs: its transformer keeps the base blocks and adds its own.
3. A LoRA whose weight is the same in every clip of the model is fused into the weights at that
   weight (`fuse_lora(lora_scale=...)`, then its adapter layers are unloaded): no cost per step. A
   constant weight of 0 is checked and left out. A LoRA whose weight changes between clips stays
   an adapter, and `before_clip` sets every such adapter's weight (`set_adapters`).
4. Experts: `both` loads into `transformer` and, on Wan 2.2 A14B, `transformer_2` (the low-noise
   expert, through diffusers' `load_into_transformer_2`); `high` / `low` into one of them; asking
   for one on a model with one expert is a LoraError naming the LoRA.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WanError

SHOWN_KEYS = 5
# what follows the layer's name in a LoRA key, in diffusers' converted state dicts
_LORA_PART = re.compile(
    r"\.(?:lora_A|lora_B|lora\.down|lora\.up|lora_down|lora_up|lora_magnitude_vector)(?:\.[\w-]+)?"
    r"\.(?:weight|bias)\Z|\.alpha\Z"
)
EXPERT_COMPONENTS = {"high": "transformer", "low": "transformer_2"}


class LoraError(WanError, ValueError):
    """A LoRA that cannot be used with this model: unreadable, keys that match nothing, an expert
    the model does not have, or peft missing."""


def has_two_experts(pipe_or_folder: Any) -> bool:
    """Whether a pipeline (or a diffusers folder, by its model_index.json) has a low-noise
    expert, `transformer_2` (Wan 2.2 A14B)."""
    if isinstance(pipe_or_folder, (str, Path)):
        try:
            index = json.loads((Path(pipe_or_folder) / "model_index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        entry = index.get("transformer_2") if isinstance(index, dict) else None
        return isinstance(entry, list) and any(part is not None for part in entry)
    return getattr(pipe_or_folder, "transformer_2", None) is not None


def components_for(expert: str, two_experts: bool, file: str, model: str = "this model") -> list[str]:
    """The pipeline components a LoRA of `expert` goes into; LoraError for an expert the model
    does not have."""
    if expert == "both":
        return ["transformer", "transformer_2"] if two_experts else ["transformer"]
    if not two_experts:
        raise LoraError(
            f"LoRA {Path(file).name}: expert {expert} needs a model with two experts (Wan 2.2 A14B); "
            f"{model} has one, so use expert both"
        )
    return [EXPERT_COMPONENTS[expert]]


def check_experts(files_and_experts: Sequence[tuple[str, str]], two_experts: bool, model: str) -> None:
    """LoraError for the first LoRA that asks for an expert the model does not have."""
    for file, expert in files_and_experts:
        components_for(expert, two_experts, file, model)


def read_lora(pipe: Any, file: str) -> dict[str, Any]:
    """The LoRA's state dict in diffusers' keys (converted from the other formats)."""
    if importlib.util.find_spec("peft") is None:
        raise LoraError("LoRAs need the peft package: pip install peft")
    if not Path(file).is_file():
        raise LoraError(f"LoRA {file}: no such file")
    try:
        state = pipe.lora_state_dict(file)
    except (ValueError, KeyError, IndexError, AttributeError, OSError) as exc:
        detail = f"a key it needs is missing: {exc.args[0]}" if isinstance(exc, KeyError) else str(exc)
        detail = detail.strip() or type(exc).__name__
        raise LoraError(
            f"LoRA {Path(file).name} is not a Wan LoRA diffusers can read "
            f"(diffusers, original/ComfyUI/Kijai or musubi-tuner keys): {detail[:300]}"
        ) from None
    if not state:
        raise LoraError(f"LoRA {Path(file).name} holds no weights")
    return with_every_bias(state)


def with_every_bias(state: dict[str, Any]) -> dict[str, Any]:
    """The state dict with a zero `lora_B.bias` for each layer that has none, when some have one
    (`diff_b` on some layers only): peft then gives every layer a bias, and one left unloaded
    stays on the meta device and fails the first forward."""
    if not any(key.endswith(".lora_B.bias") for key in state):
        return state
    completed = dict(state)
    for key, value in state.items():
        if key.endswith(".lora_B.weight"):
            bias = key.removesuffix(".weight") + ".bias"
            if bias not in completed:
                completed[bias] = value.new_zeros(value.shape[0])
    return completed


def layer_of(key: str) -> str:
    """The layer a converted LoRA key belongs to (`transformer.blocks.0.attn1.to_q`)."""
    return _LORA_PART.sub("", key)


def unmatched_keys(state: dict[str, Any], layers: set[str]) -> list[str]:
    """The keys of a converted state dict that name no layer in `layers` (names inside the
    transformer, without its `transformer.` prefix)."""
    missing = []
    for key in state:
        layer = layer_of(key)
        if not layer.startswith("transformer.") or layer.removeprefix("transformer.") not in layers:
            missing.append(key)
    return missing


def misfits(state: dict[str, Any], modules: dict[str, Any]) -> list[str]:
    """`layer (LoRA a x b, layer c x d)` for each LoRA matrix whose size does not fit its Linear
    layer (a LoRA for another model size): A takes the layer's inputs, B gives its outputs."""
    found = []
    for key, value in state.items():
        layer = modules.get(layer_of(key).removeprefix("transformer."))
        inputs, outputs = getattr(layer, "in_features", None), getattr(layer, "out_features", None)
        if inputs is None or getattr(value, "ndim", 0) != 2:
            continue
        if (key.endswith(".lora_A.weight") and value.shape[1] != inputs) or (
            key.endswith(".lora_B.weight") and value.shape[0] != outputs
        ):
            found.append(
                f"{layer_of(key)} (LoRA {value.shape[0]}x{value.shape[1]}, layer {inputs}->{outputs})"
            )
    return found


def _shown(keys: list[str]) -> str:
    more = f" (and {len(keys) - SHOWN_KEYS} more)" if len(keys) > SHOWN_KEYS else ""
    return ", ".join(keys[:SHOWN_KEYS]) + more


def _check_keys(pipe: Any, file: str, state: dict[str, Any], components: list[str]) -> None:
    for component in components:
        modules = dict(getattr(pipe, component).named_modules())
        missing = unmatched_keys(state, set(modules))
        if missing:
            raise LoraError(
                f"LoRA {Path(file).name}: {len(missing)} of its {len(state)} keys match no layer of the "
                f"{component} of this model, e.g. {_shown(missing)}; is it a LoRA for another model?"
            )
        wrong = misfits(state, modules)
        if wrong:
            raise LoraError(
                f"LoRA {Path(file).name}: {len(wrong)} of its matrices do not fit the {component}'s layers, "
                f"e.g. {_shown(wrong)}; is it a LoRA for another model size?"
            )


def _adapter_layers(model: Any, adapter: str) -> int:
    return sum(1 for module in model.modules() if adapter in (getattr(module, "lora_A", None) or {}))


def _load(pipe: Any, file: str, state: dict[str, Any], adapter: str, components: list[str]) -> None:
    """Load `state` as adapter `adapter` into each component, and check that every layer it
    names took it."""
    wanted = len({layer_of(key) for key in state if ".lora_A." in key or ".lora.down." in key})
    for component in components:
        pipe.load_lora_weights(
            dict(state), adapter_name=adapter, load_into_transformer_2=component == "transformer_2"
        )
        found = _adapter_layers(getattr(pipe, component), adapter)
        if found < wanted:
            raise LoraError(
                f"LoRA {Path(file).name}: only {found} of the {wanted} layers it names took it in the "
                f"{component}; the rest would be ignored"
            )


@dataclass
class LoadedLora:
    """One LoRA on a pipeline: fused at a weight, an adapter set per clip, or left out (0)."""

    file: str
    expert: str
    mode: str  # fused, adapter, skipped
    weight: float | None = None  # the fused weight
    adapter: str = ""

    def record(self, weight: float) -> dict[str, Any]:
        """JSON-ready, for a clip's metadata."""
        return {"file": self.file, "weight": weight, "expert": self.expert, "mode": self.mode}


@dataclass
class AppliedLoras:
    """The LoRAs applied to one pipeline; `before_clip` sets the scheduled weights."""

    pipe: Any
    loras: list[LoadedLora] = field(default_factory=list)

    def before_clip(self, clip: Any) -> None:
        """Set each adapter's weight to the clip's (a clip of this pipeline's model)."""
        names, weights = [], []
        for loaded, used in zip(self.loras, clip.loras, strict=True):
            if loaded.mode == "adapter":
                names.append(loaded.adapter)
                weights.append(float(used.weight))
        if names:
            self.pipe.set_adapters(names, weights)

    def record(self, clip: Any) -> list[dict[str, Any]]:
        """What each LoRA did for the clip, for its metadata."""
        return [loaded.record(used.weight) for loaded, used in zip(self.loras, clip.loras, strict=True)]


def apply_loras(pipe: Any, clips: Sequence[Any], *, model: str = "this model") -> AppliedLoras:
    """Load the LoRAs of `clips` (the plan's clips of this pipeline's model, which all list the
    same LoRAs in the same order) into `pipe`, fused or as adapters (see the module doc)."""
    applied = AppliedLoras(pipe)
    if not clips or not clips[0].loras:
        return applied
    two = has_two_experts(pipe)
    uses = clips[0].loras
    components = [components_for(lora.expert, two, lora.file, model) for lora in uses]
    weights = [{float(clip.loras[index].weight) for clip in clips} for index in range(len(uses))]
    constant = [len(found) == 1 for found in weights]
    loaded: dict[int, LoadedLora] = {}
    # constant weights first: each is fused and its layers unloaded before the next one loads
    for index in [i for i in range(len(uses)) if constant[i]] + [
        i for i in range(len(uses)) if not constant[i]
    ]:
        lora, adapter = uses[index], f"wan_lora_{index}"
        state = read_lora(pipe, lora.file)
        _check_keys(pipe, lora.file, state, components[index])
        if not constant[index]:
            _load(pipe, lora.file, state, adapter, components[index])
            loaded[index] = LoadedLora(lora.file, lora.expert, "adapter", adapter=adapter)
            continue
        (weight,) = weights[index]
        if weight == 0.0:
            loaded[index] = LoadedLora(lora.file, lora.expert, "skipped", 0.0)
            continue
        _load(pipe, lora.file, state, adapter, components[index])
        pipe.fuse_lora(components=components[index], lora_scale=weight, adapter_names=[adapter])
        pipe.unload_lora_weights()
        loaded[index] = LoadedLora(lora.file, lora.expert, "fused", weight)
    applied.loras = [loaded[index] for index in range(len(uses))]
    return applied
