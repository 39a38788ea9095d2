"""Speed presets: which of the field's accelerations a render uses, chosen for the device.

| preset    | output             | what it does                                                          |
|-----------|--------------------|-----------------------------------------------------------------------|
| quality   | lossless (default) | the fastest attention kernel of the GPU, measured at load time; regional |
|           |                    | torch.compile of the repeated transformer blocks; cuDNN autotuning    |
| fast      | lossy              | quality + First Block Cache (threshold 0.05)                          |
| fastest   | lossy              | First Block Cache 0.1, fp8 compute (torchao; compute capability 8.9+  |
|           |                    | where installed), 30 steps                                            |
| distilled | lossy              | a step-distilled LoRA (speed_lora): 4 steps, no guidance              |

"Lossless" means the same computation as stock diffusers in a different order: outputs agree to
floating-point rounding. Each setting can be overridden (speed_attention, speed_compile,
speed_cache, speed_cache_threshold, speed_fp8, speed_lora). On the CPU only PyTorch's own
attention runs and nothing is compiled unless asked. Pure data and decisions: torch is imported
only to look at the device (DeviceInfo.probe).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field
from typing import Any

ATTENTION_CHOICES = ("auto", "native", "flash", "cudnn", "efficient", "flex", "flash_attn")
COMPILE_CHOICES = ("auto", "off", "regional")
CACHE_CHOICES = ("auto", "none", "first_block", "mag", "taylorseer", "sea")
FP8_CHOICES = ("auto", "off", "layerwise", "torchao")
# diffusers' defaults of the caches that decide by a threshold
CACHE_THRESHOLDS = {"first_block": 0.05, "mag": 0.06, "sea": 0.25}
FP8_CAPABILITY = (8, 9)  # Ada and Hopper have fp8 tensor cores


@dataclass(frozen=True)
class SpeedPreset:
    """One named recipe; `steps`/`guidance_scale` apply when the settings leave those null."""

    name: str
    lossless: bool
    description: str
    cache: str = "none"
    cache_threshold: float | None = None
    fp8: str = "off"
    steps: int | None = None
    guidance_scale: float | None = None
    needs_lora: bool = False


PRESETS: dict[str, SpeedPreset] = {
    preset.name: preset
    for preset in (
        SpeedPreset(
            "quality",
            True,
            "fastest attention kernel, regional torch.compile, cuDNN autotuning: same output as stock",
        ),
        SpeedPreset(
            "fast",
            False,
            "quality + First Block Cache: a step whose first block barely changes reuses the rest",
            cache="first_block",
            cache_threshold=0.05,
        ),
        SpeedPreset(
            "fastest",
            False,
            "First Block Cache 0.1, fp8 compute where the GPU has it, 30 steps",
            cache="first_block",
            cache_threshold=0.1,
            fp8="torchao",
            steps=30,
        ),
        SpeedPreset(
            "distilled",
            False,
            "a step-distilled LoRA (speed_lora): 4 steps without classifier-free guidance",
            steps=4,
            guidance_scale=1.0,
            needs_lora=True,
        ),
    )
}
DEFAULT_PRESET = "quality"


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{key}: must be one of {', '.join(allowed)} (got {value!r})")


def speed_preset(name: str) -> SpeedPreset:
    """The preset called `name`; ValueError naming speed_preset and the allowed names."""
    _choice("speed_preset", name, tuple(PRESETS))
    return PRESETS[name]


def effective_cache(cache: str, preset: str) -> str:
    """The step cache a setting means: `auto` is the preset's."""
    return speed_preset(preset).cache if cache == "auto" else cache


def combination_problems(
    preset: str, cache: str, cache_threshold: float | None, lora: str
) -> list[tuple[str, str]]:
    """(settings key, what is wrong) for speed settings that do not go together."""
    problems = []
    chosen = effective_cache(cache, preset)
    if cache_threshold is not None and chosen not in CACHE_THRESHOLDS:
        problems.append(
            (
                "speed_cache_threshold",
                f"applies only to the first_block, mag and sea caches, and the cache is {chosen}",
            )
        )
    if speed_preset(preset).needs_lora and not lora:
        problems.append(("speed_lora", f"speed_preset {preset} needs a step-distilled LoRA file here"))
    return problems


@dataclass(frozen=True)
class SpeedConfig:
    """What the settings ask for: a preset and overrides (`auto`: the preset's or the device's)."""

    preset: str = DEFAULT_PRESET
    attention: str = "auto"
    compile: str = "auto"
    cache: str = "auto"
    cache_threshold: float | None = None
    fp8: str = "auto"
    lora: str = ""

    def __post_init__(self) -> None:
        speed_preset(self.preset)
        _choice("speed_attention", self.attention, ATTENTION_CHOICES)
        _choice("speed_compile", self.compile, COMPILE_CHOICES)
        _choice("speed_cache", self.cache, CACHE_CHOICES)
        _choice("speed_fp8", self.fp8, FP8_CHOICES)
        problems = combination_problems(self.preset, self.cache, self.cache_threshold, self.lora)
        if problems:
            raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))

    @classmethod
    def from_options(cls, options: Any) -> SpeedConfig:
        """From the settings' speed_* group (or anything with the same attributes)."""
        return cls(**{name: getattr(options, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class DeviceInfo:
    """What the speed decisions need to know about a torch device."""

    type: str
    name: str = ""
    capability: tuple[int, int] | None = None
    triton: bool = False
    torchao: bool = False

    @property
    def fp8_compute(self) -> bool:
        """Whether the GPU has fp8 tensor cores."""
        return self.type == "cuda" and self.capability is not None and self.capability >= FP8_CAPABILITY

    @classmethod
    def probe(cls, device: Any) -> DeviceInfo:
        """Look at a torch device (imports torch)."""
        import torch

        device = torch.device(device)
        if device.type != "cuda":
            return cls(device.type, device.type)
        index = device.index if device.index is not None else torch.cuda.current_device()
        return cls(
            "cuda",
            torch.cuda.get_device_name(index),
            tuple(torch.cuda.get_device_capability(index)),  # type: ignore[arg-type]
            importlib.util.find_spec("triton") is not None,
            importlib.util.find_spec("torchao") is not None,
        )


@dataclass(frozen=True)
class ResolvedSpeed:
    """The concrete choices for one device and memory preset, with why things were left out.
    `attention` "fastest" means: measured among the available kernels when the model is loaded."""

    preset: str
    lossless: bool
    attention: str
    compile: bool
    cache: str
    cache_threshold: float | None
    fp8: str
    lora: str
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self) | {"notes": list(self.notes)}


def _attention(asked: str, device: DeviceInfo) -> str:
    if device.type != "cuda":
        if asked not in ("auto", "native"):
            raise ValueError(
                f"speed_attention: {asked} needs a CUDA GPU; on {device.type} use auto or native"
            )
        return "native"
    return "fastest" if asked == "auto" else asked


def _compile(asked: str, device: DeviceInfo, offload: str, cache: str, notes: list[str]) -> bool:
    if asked != "auto":
        return asked == "regional"
    if device.type != "cuda" or not device.triton:
        return False
    if offload == "group":
        notes.append("compile off: group offloading moves weights inside the blocks")
        return False
    if cache == "mag":
        notes.append("compile off: MagCache's hooks run outside torch.compile")
        return False
    return True


def _fp8(asked: str, preset: SpeedPreset, device: DeviceInfo, offload: str, notes: list[str]) -> str:
    wanted = preset.fp8 if asked == "auto" else asked
    if wanted != "torchao":
        return wanted
    problem = None
    if not device.fp8_compute:
        problem = f"fp8 compute needs a GPU of compute capability 8.9+ (this is {device.name or device.type})"
    elif not device.torchao:
        problem = "fp8 compute needs the torchao package (pip install torchao)"
    elif offload != "none":
        problem = "fp8 compute needs the transformer resident on the GPU (memory preset none or conservative)"
    if problem is None:
        return "torchao"
    if asked == "torchao":
        raise ValueError(f"speed_fp8: {problem}")
    notes.append(f"fp8 off: {problem}")
    return "off"


def resolve_speed(speed: SpeedConfig, device: DeviceInfo, *, offload: str, kind: str) -> ResolvedSpeed:
    """The choices for a model of `kind` (vace, t2v, i2v) on `device` with that offloading;
    ValueError naming the setting when something asked for cannot run here."""
    preset = speed_preset(speed.preset)
    notes: list[str] = []
    cache = effective_cache(speed.cache, speed.preset)
    if cache == "sea" and kind != "t2v":
        raise ValueError("speed_cache: sea works with text-to-video models only (diffusers' SeaCache)")
    threshold = speed.cache_threshold
    if threshold is None and cache in CACHE_THRESHOLDS:
        own = preset.cache_threshold if cache == preset.cache else None
        threshold = own if own is not None else CACHE_THRESHOLDS[cache]
    fp8 = _fp8(speed.fp8, preset, device, offload, notes)
    lossless = cache == "none" and fp8 == "off" and not speed.lora and preset.steps is None
    return ResolvedSpeed(
        preset=preset.name,
        lossless=lossless,
        attention=_attention(speed.attention, device),
        compile=_compile(speed.compile, device, offload, cache, notes),
        cache=cache,
        cache_threshold=threshold,
        fp8=fp8,
        lora=speed.lora,
        notes=tuple(notes),
    )
