"""How the models are fitted into GPU memory (memory_* settings) and what each preset does.

| preset       | weights                                     | VAE decode | guidance | auto picks it for |
|--------------|---------------------------------------------|------------|----------|-------------------|
| none         | everything on the GPU                       | whole      | batched  | no GPU (CPU runs) |
| conservative | everything on the GPU                       | tiled      | batched  | 16 GB and more    |
| balanced     | model CPU offload (one component at a time) | tiled      | 2 calls  | 8-16 GB           |
| aggressive   | group offload, leaf level, CUDA streams     | tiled      | 2 calls  | under 8 GB        |

Guidance batching runs the conditional and unconditional passes of a step as one batch of 2
(lossless; more activation memory at once; see wan.models.guidance); `memory_batch_guidance`
overrides the preset's choice.

On every preset the text encoder is used once per unique prompt and released before the video
model runs; under the aggressive preset it runs on the CPU. An out-of-memory error moves to the
next preset down the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from .fields import Choice, setting
from .group import SettingsGroup

Offload = Literal["none", "model", "group"]
# GPU memory (GiB) below which `auto` picks a preset.
AGGRESSIVE_BELOW_GB = 8.0
BALANCED_BELOW_GB = 16.0


@dataclass(frozen=True)
class MemoryPreset:
    """One memory preset: offloading, VAE tiling and where prompts are encoded."""

    name: str
    offload: Offload
    vae_tiling: bool
    description: str
    encode_on_cpu: bool = False
    group_offload_type: Literal["block_level", "leaf_level"] = "leaf_level"
    use_cuda_streams: bool = True
    vae_tile: int = 256  # pixels per VAE tile side when tiling (diffusers' default), stride 3/4 of it
    batch_guidance: bool = False  # cond and uncond passes as one batch of 2

    def more_aggressive(self) -> MemoryPreset | None:
        """The next preset that uses less GPU memory, or None after the aggressive one."""
        order = list(MEMORY_PRESETS)
        index = order.index(self.name)
        return None if index + 1 == len(order) else MEMORY_PRESETS[order[index + 1]]


# In order of GPU memory use, most first.
MEMORY_PRESETS: dict[str, MemoryPreset] = {
    preset.name: preset
    for preset in (
        MemoryPreset(
            "none", "none", False, "everything on the GPU, whole-frame VAE decode", batch_guidance=True
        ),
        MemoryPreset(
            "conservative", "none", True, "everything on the GPU, tiled VAE decode", batch_guidance=True
        ),
        MemoryPreset("balanced", "model", True, "one model on the GPU at a time, tiled VAE decode"),
        MemoryPreset(
            "aggressive",
            "group",
            True,
            "layers streamed to the GPU as they run (under 8 GB)",
            encode_on_cpu=True,
        ),
    )
}
MEMORY_CHOICES = ("auto", *MEMORY_PRESETS)
BATCH_GUIDANCE_CHOICES = ("auto", "on", "off")


def preset_for_vram(vram_gb: float | None) -> MemoryPreset:
    """The preset `auto` picks for a GPU with `vram_gb` GiB (None: no GPU, nothing to offload)."""
    if vram_gb is None:
        return MEMORY_PRESETS["none"]
    if vram_gb < AGGRESSIVE_BELOW_GB:
        return MEMORY_PRESETS["aggressive"]
    if vram_gb < BALANCED_BELOW_GB:
        return MEMORY_PRESETS["balanced"]
    return MEMORY_PRESETS["conservative"]


@dataclass(frozen=True)
class MemoryOptions(SettingsGroup):
    """Which memory preset a render starts with."""

    PREFIX: ClassVar[str] = "memory_"

    preset: str = setting(
        "auto",
        Choice(MEMORY_CHOICES),
        "auto picks from the detected GPU; aggressive fits under 8 GB at a speed cost",
        label="Memory preset",
    )
    batch_guidance: str = setting(
        "auto",
        Choice(BATCH_GUIDANCE_CHOICES),
        "Conditional and unconditional passes as one batch of 2 (same output, faster, more memory): "
        "auto (on for the none and conservative presets), on or off; off with a step cache",
        label="Batch guidance passes",
    )
