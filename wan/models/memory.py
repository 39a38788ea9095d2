"""The memory preset and the weights format a render starts with.

`auto` (memory_preset, weights) fits the model into the detected GPU by an estimate of what each
combination needs in GPU memory (estimate_gpu_gb):

- the weights resident on the GPU: every transformer, the VAE (fp32) and the CLIP image encoder
  when everything stays on the GPU (none, conservative); the largest one of them under model CPU
  offload (balanced: one component, so one expert, on the GPU at a time); two blocks under group
  offload (aggressive);
- the activations of one transformer block on the largest clip in bf16 (the video tokens x
  (4 x hidden + FFN width) x 2 bytes), plus 1 GiB of CUDA context and allocator slack;
- the text encoder (UMT5-XXL, 10.6 GiB in bf16) runs before the video model is placed; when it
  does not fit, prompts are encoded on the CPU.

The search prefers quality, then speed: the weights formats in the order bf16, int8_torchao
(per-channel scales), int8 (bitsandbytes), fp8 storage (unscaled), nf4 (those this machine can
run), each first with everything on the GPU, then with model offload; the first that fits 92 % of
the GPU's memory wins. When nothing fits, group offload (aggressive) streams bf16 weights block by block. With
these estimates a 14B model on a 12-16 GB GPU runs in nf4: Wan 2.2 A14B with balanced (one
expert on the GPU at a time): 6.9 GiB of weights + 3.1 GiB at 832x480, 81 frames = 10.0 GiB;
Wan 2.1 T2V-14B whole on the GPU (conservative): 10.4 GiB. On 12 GB the prompts are encoded on
the CPU (the 10.6 GiB text encoder does not fit beside the CUDA context).

The presets themselves, and what each does, are wan.config.memory.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog.models import GIB, TEXT_ENCODER_PARAMS, WEIGHT_BYTES, ModelSpec
from ..config.memory import MEMORY_PRESETS, MemoryPreset, preset_for_vram
from .architectures import TRANSFORMER_CONFIGS, latent_shape
from .quantization import Weights, check_weights

# share of the GPU's memory the estimate may fill: the rest is for fragmentation and the display
USABLE_SHARE = 0.92
CUDA_OVERHEAD_GB = 1.0
# in order of preference (quality first) for `weights: auto`; gguf needs a file, never automatic
AUTO_WEIGHTS = ("bf16", "int8_torchao", "int8", "fp8", "nf4")
WEIGHTS_PACKAGES = {"int8": "bitsandbytes", "nf4": "bitsandbytes", "int8_torchao": "torchao"}
# a model without a known architecture (a local folder): the 14B's block sizes, a safe side
_FALLBACK_BLOCK = {"num_attention_heads": 40, "attention_head_dim": 128, "ffn_dim": 13824, "num_layers": 40}


def detect_vram_gb(device: Any = None) -> float | None:
    """Total memory in GiB of the CUDA device a render uses (the current one unless given), or
    None without one (imports torch): `auto` picks each worker's preset from its own GPU."""
    from .devices import device_vram_gb

    return device_vram_gb(device)


def resolve_memory(preset: str, vram_gb: float | None = None) -> MemoryPreset:
    """The preset of a validated settings value: auto picks from the GPU (detected unless given)."""
    if preset == "auto":
        return preset_for_vram(detect_vram_gb() if vram_gb is None else vram_gb)
    return MEMORY_PRESETS[preset]


@dataclass(frozen=True)
class ClipSize:
    """The largest clip of a render: frames, height and width."""

    frames: int = 81
    height: int = 480
    width: int = 832


@dataclass(frozen=True)
class Estimate:
    """GPU memory (GiB) a model needs with one weights format and one kind of offloading."""

    weights: float
    activations: float
    text_encoder: float

    @property
    def total(self) -> float:
        """Peak of the video model's part: resident weights and activations."""
        return self.weights + self.activations


def _block(spec: ModelSpec) -> dict:
    return TRANSFORMER_CONFIGS.get(spec.id, _FALLBACK_BLOCK)


def activations_gb(spec: ModelSpec, clip: ClipSize) -> float:
    """One block's working set on the clip in bf16, plus the CUDA context (see the module doc)."""
    block = _block(spec)
    frames, height, width = latent_shape(clip.frames, clip.height, clip.width, spec.vae_spatial)
    tokens = frames * (height // 2) * (width // 2)
    hidden = block["num_attention_heads"] * block["attention_head_dim"]
    return tokens * (4 * hidden + block["ffn_dim"]) * 2 / GIB + CUDA_OVERHEAD_GB


def transformer_gb(spec: ModelSpec, weights: str, *, gguf_bytes: int | None = None) -> float:
    """One expert's weights in GiB (a GGUF file's own size when known)."""
    if weights == "gguf" and gguf_bytes is not None:
        return gguf_bytes / GIB
    format = "gguf_q8_0" if weights == "gguf" else weights
    return spec.transformer_params * WEIGHT_BYTES[format] / GIB


def estimate_gpu_gb(
    spec: ModelSpec, weights: str, offload: str, clip: ClipSize = ClipSize(), *, gguf_bytes: int | None = None
) -> Estimate:
    """What the model needs in GPU memory with `weights` and offloading `offload` (none, model,
    group) for clips up to `clip` (see the module doc)."""
    parts = spec.weights_gb("bf16")
    expert = transformer_gb(spec, weights, gguf_bytes=gguf_bytes)
    others = [parts.get("vae", 0.0), parts.get("image_encoder", 0.0)]
    if offload == "none":
        resident = spec.experts * expert + sum(others)
    elif offload == "model":
        resident = max(expert, *others)
    else:  # group offload: a block being computed and the next one arriving
        resident = 2 * expert / _block(spec)["num_layers"]
    text = TEXT_ENCODER_PARAMS * 2 / GIB
    return Estimate(resident, activations_gb(spec, clip), text)


def usable_weights(device_type: str) -> tuple[str, ...]:
    """The formats `weights: auto` may pick on a device of this type with the packages here."""
    if device_type != "cuda":
        return ("bf16",)
    usable = []
    for format in AUTO_WEIGHTS:
        package = WEIGHTS_PACKAGES.get(format)
        if package is None or importlib.util.find_spec(package) is not None:
            usable.append(format)
    return tuple(usable)


@dataclass(frozen=True)
class Placement:
    """How a render fits a model into the GPU: the memory preset, the weights format, the
    estimate it was picked by (None when nothing was estimated) and why, in words."""

    preset: MemoryPreset
    weights: str
    estimate_gb: float | None = None
    reason: str = ""


def _with_text_encoder(preset: MemoryPreset, estimate: Estimate, usable: float) -> MemoryPreset:
    if estimate.text_encoder + CUDA_OVERHEAD_GB > usable and not preset.encode_on_cpu:
        return dataclasses.replace(preset, encode_on_cpu=True)
    return preset


def choose_placement(
    memory: str,
    weights: str,
    spec: ModelSpec,
    vram_gb: float | None,
    *,
    usable_formats: tuple[str, ...] = AUTO_WEIGHTS,
    clip: ClipSize = ClipSize(),
    gguf_bytes: int | None = None,
) -> Placement:
    """The memory preset and weights format for `spec` on a GPU of `vram_gb` GiB (None: no GPU):
    what the settings say, `auto` filled in by the estimate (see the module doc); `gguf_bytes`:
    the size of the largest GGUF file, when the weights are gguf."""
    if vram_gb is None or spec.tiny or not spec.transformer_params:  # no GPU, or nothing to estimate
        preset = preset_for_vram(vram_gb) if memory == "auto" else MEMORY_PRESETS[memory]
        return Placement(preset, "bf16" if weights == "auto" else weights)
    usable = vram_gb * USABLE_SHARE
    formats = [f for f in AUTO_WEIGHTS if f in usable_formats] if weights == "auto" else [weights]
    presets = ["conservative", "balanced"] if memory == "auto" else [memory]
    for format in formats or ["bf16"]:
        for name in presets:
            preset = MEMORY_PRESETS[name]
            estimate = estimate_gpu_gb(spec, format, preset.offload, clip, gguf_bytes=gguf_bytes)
            if estimate.total <= usable:
                reason = f"{format} + {name}: about {estimate.total:.1f} of {vram_gb:.0f} GiB"
                return Placement(_with_text_encoder(preset, estimate, usable), format, estimate.total, reason)
    fallback = MEMORY_PRESETS["aggressive"] if memory == "auto" else MEMORY_PRESETS[memory]
    format = "bf16" if weights == "auto" else weights
    estimate = estimate_gpu_gb(spec, format, fallback.offload, clip, gguf_bytes=gguf_bytes)
    reason = f"{format} + {fallback.name}: nothing lighter fits {vram_gb:.0f} GiB by the estimate"
    return Placement(_with_text_encoder(fallback, estimate, usable), format, estimate.total, reason)


def place_models(
    specs: list[ModelSpec],
    *,
    memory: str,
    weights: str,
    files: tuple[str, ...],
    device: Any,
    clip: ClipSize,
) -> tuple[Placement, Weights]:
    """The placement of a render's models (the largest decides) on `device`, and the weights
    format they load in; QuantizationUnavailable before anything loads when it cannot run here."""
    largest = max(specs, key=lambda spec: spec.experts * spec.transformer_params)
    vram = detect_vram_gb(device) if device.type == "cuda" else None
    sizes = [Path(path).stat().st_size for path in files if Path(path).is_file()]
    placement = choose_placement(
        memory,
        weights,
        largest,
        vram,
        usable_formats=usable_weights(device.type),
        clip=clip,
        gguf_bytes=max(sizes) if sizes else None,
    )
    chosen = Weights(placement.weights, files if placement.weights == "gguf" else ())
    check_weights(chosen, device.type)
    return placement, chosen


# the formats `python -m wan models` shows (int8_torchao needs what int8 needs)
SHOWN_FORMATS = ("bf16", "fp8", "int8", "nf4", "gguf_q8_0", "gguf_q4_k_m")


def memory_table(spec: ModelSpec) -> dict[str, dict[str, float]]:
    """For each shown weights format: the transformer weights (all experts) and the GPU memory
    the estimate needs at the model's first trained size and longest clip, with the whole model
    on the GPU (`all`) and with one component at a time (`offload`), in GiB."""
    width, height = spec.sizes[0]
    clip = ClipSize(spec.max_frames, height, width)
    table = {}
    for format in SHOWN_FORMATS:
        per_expert = spec.transformer_params * WEIGHT_BYTES[format] / GIB
        shown = format.removeprefix("gguf_")
        weights = "gguf" if format.startswith("gguf") else format
        size = int(per_expert * GIB) if weights == "gguf" else None
        table[shown] = {
            "weights": round(spec.experts * per_expert, 2),
            "all": round(estimate_gpu_gb(spec, weights, "none", clip, gguf_bytes=size).total, 1),
            "offload": round(estimate_gpu_gb(spec, weights, "model", clip, gguf_bytes=size).total, 1),
        }
    return table
