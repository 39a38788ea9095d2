"""How generation is sped up (speed_* settings): a preset and overrides of its parts.

| preset    | output             | what it does                                                          |
|-----------|--------------------|-----------------------------------------------------------------------|
| quality   | lossless (default) | the fastest attention kernel of the GPU, measured at load time;       |
|           |                    | regional torch.compile of the repeated blocks; cuDNN autotuning       |
| fast      | lossy              | quality + First Block Cache (threshold 0.05)                          |
| fastest   | lossy              | First Block Cache 0.1, fp8 compute (torchao; compute capability 8.9+  |
|           |                    | where installed), 30 steps                                            |
| distilled | lossy              | a step-distilled LoRA (speed_lora): 4 steps, no guidance              |

What each choice means on a given device is decided by wan.models.speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .fields import Choice, FieldError, Invalid, Number, setting
from .files import LocalFile
from .group import SettingsGroup

ATTENTION_CHOICES = ("auto", "native", "flash", "cudnn", "efficient", "flex", "flash_attn")
COMPILE_CHOICES = ("auto", "off", "regional")
CACHE_CHOICES = ("auto", "none", "first_block", "mag", "taylorseer", "sea")
FP8_CHOICES = ("auto", "off", "torchao")
# diffusers' defaults of the caches that decide by a threshold
CACHE_THRESHOLDS = {"first_block": 0.05, "mag": 0.06, "sea": 0.25}


@dataclass(frozen=True)
class Fp8Choice(Choice):
    """speed_fp8's choices; its former `layerwise` (fp8 storage) is the weights setting's fp8."""

    def __call__(self, value: Any) -> str:
        if isinstance(value, str) and value.strip().lower() == "layerwise":
            raise Invalid("fp8 storage (layerwise) is now the weights setting: set weights to fp8")
        return super().__call__(value)


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


SPEED_PRESETS: dict[str, SpeedPreset] = {
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
DEFAULT_SPEED_PRESET = "quality"


def effective_cache(cache: str, preset: str) -> str:
    """The step cache a setting means: `auto` is the preset's."""
    return SPEED_PRESETS[preset].cache if cache == "auto" else cache


@dataclass(frozen=True)
class SpeedOptions(SettingsGroup):
    """A speed preset and overrides of its parts (`auto`: the preset's or the device's choice)."""

    PREFIX: ClassVar[str] = "speed_"

    preset: str = setting(
        DEFAULT_SPEED_PRESET,
        Choice(tuple(SPEED_PRESETS)),
        "quality is lossless; fast, fastest and distilled trade some quality for speed",
        label="Speed preset",
    )
    attention: str = setting(
        "auto",
        Choice(ATTENTION_CHOICES),
        "Attention kernel: auto (the GPU's fastest, measured), native, flash, cudnn, efficient, flex or "
        "flash_attn",
        label="Attention kernel",
    )
    compile: str = setting(
        "auto",
        Choice(COMPILE_CHOICES),
        "torch.compile of the repeated transformer blocks: auto (CUDA with Triton), off or regional",
        label="torch.compile",
    )
    cache: str = setting(
        "auto",
        Choice(CACHE_CHOICES),
        "Step cache (lossy): auto (the preset's), none, first_block, mag, taylorseer, sea (T2V only)",
        label="Step cache",
    )
    cache_threshold: float | None = setting(
        None,
        Number(0.0, 5.0, optional=True),
        "first_block, mag, sea: higher skips more steps (null: the preset's, else diffusers' default)",
        label="Step cache threshold",
    )
    fp8: str = setting(
        "auto",
        Fp8Choice(FP8_CHOICES),
        "fp8 compute: auto (the preset's), off, torchao (Ada/Hopper GPUs; fp8 storage is weights fp8)",
        label="fp8 compute",
    )
    lora: str = setting(
        "",
        LocalFile("models", (".safetensors",), "a LoRA"),
        "Step-distilled LoRA fused into the transformer (needed by the distilled preset)",
        label="Step-distilled LoRA",
    )

    @property
    def cache_in_effect(self) -> str:
        """The step cache these settings mean (`auto`: the preset's)."""
        return effective_cache(self.cache, self.preset)

    def _rule_threshold_needs_a_threshold_cache(self) -> list[FieldError]:
        if self.cache_threshold is not None and self.cache_in_effect not in CACHE_THRESHOLDS:
            message = (
                "applies only to the first_block, mag and sea caches, and the cache is "
                + self.cache_in_effect
            )
            return [FieldError("speed_cache_threshold", self.cache_threshold, message)]
        return []

    def _rule_preset_needs_lora(self) -> list[FieldError]:
        if SPEED_PRESETS[self.preset].needs_lora and not self.lora:
            message = f"speed_preset {self.preset} needs a step-distilled LoRA file here"
            return [FieldError("speed_lora", self.lora, message)]
        return []
