"""What the speed settings (wan.config.speed) mean on a device: which attention kernel, whether
torch.compile runs, which step cache and fp8 mode, and why something was left out.

"Lossless" means the same computation as stock diffusers in a different order: outputs agree to
floating-point rounding. On the CPU only PyTorch's own attention runs and nothing is compiled
unless asked. Pure decisions: torch is imported only to look at the device (DeviceInfo.probe).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field
from typing import Any

from ..config.speed import CACHE_THRESHOLDS, SPEED_PRESETS, SpeedOptions, SpeedPreset
from ..errors import WanError

FP8_CAPABILITY = (8, 9)  # Ada and Hopper have fp8 tensor cores


class SpeedUnavailable(WanError, ValueError):
    """A speed setting that cannot run on this device or with these packages (names the setting)."""


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
            raise SpeedUnavailable(
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


def _fp8(
    asked: str, preset: SpeedPreset, device: DeviceInfo, offload: str, weights: str, notes: list[str]
) -> str:
    wanted = preset.fp8 if asked == "auto" else asked
    if wanted != "torchao":
        return wanted
    problem = None
    if weights != "bf16":
        problem = f"fp8 compute quantizes bf16 weights itself, and the weights are {weights}"
    elif not device.fp8_compute:
        problem = f"fp8 compute needs a GPU of compute capability 8.9+ (this is {device.name or device.type})"
    elif not device.torchao:
        problem = "fp8 compute needs the torchao package (pip install torchao)"
    elif offload != "none":
        problem = "fp8 compute needs the transformer resident on the GPU (memory preset none or conservative)"
    if problem is None:
        return "torchao"
    if asked == "torchao":
        raise SpeedUnavailable(f"speed_fp8: {problem}")
    notes.append(f"fp8 off: {problem}")
    return "off"


def resolve_speed(
    speed: SpeedOptions,
    device: DeviceInfo,
    *,
    offload: str,
    kind: str,
    experts: int = 1,
    weights: str = "bf16",
) -> ResolvedSpeed:
    """The choices for a model of `kind` (vace, t2v, i2v, ti2v) with `experts` transformers in
    `weights` on `device` with that offloading; ValueError naming the setting when something
    asked for cannot run here."""
    preset = SPEED_PRESETS[speed.preset]
    notes: list[str] = []
    cache = speed.cache_in_effect
    if cache == "sea" and kind != "t2v":
        raise SpeedUnavailable("speed_cache: sea works with text-to-video models only (diffusers' SeaCache)")
    if cache == "mag" and experts > 1:
        raise SpeedUnavailable(
            "speed_cache: mag calibrates one transformer over all steps; two experts split them"
        )
    threshold = speed.cache_threshold
    if threshold is None and cache in CACHE_THRESHOLDS:
        own = preset.cache_threshold if cache == preset.cache else None
        threshold = own if own is not None else CACHE_THRESHOLDS[cache]
    fp8 = _fp8(speed.fp8, preset, device, offload, weights, notes)
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
