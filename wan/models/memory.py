"""Memory presets: how a pipeline is fitted into GPU memory, chosen from the detected GPU.

| preset       | weights                                    | VAE decode | for                  |
|--------------|--------------------------------------------|------------|----------------------|
| none         | everything on the GPU                      | whole      | large GPUs, speed    |
| conservative | everything on the GPU                      | tiled      | 16 GB and more       |
| balanced     | model CPU offload (one component at a time)| tiled      | 8-16 GB              |
| aggressive   | group offload, leaf level, CUDA streams    | tiled      | under 8 GB           |

On every preset the text encoder is used once per unique prompt and released before the video
model runs (so UMT5-XXL never sits beside the transformer); under the aggressive preset it runs
on the CPU. Out-of-memory errors move to the next preset down this table (`more_aggressive`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Offload = Literal["none", "model", "group"]
PRESET_ORDER = ("none", "conservative", "balanced", "aggressive")
# GPU memory (GiB) below which a preset is picked automatically.
AGGRESSIVE_BELOW_GB = 8.0
BALANCED_BELOW_GB = 16.0


@dataclass(frozen=True)
class MemoryOptimizationConfig:
    """One memory preset: offloading, VAE tiling and where prompts are encoded."""

    name: str
    offload: Offload
    vae_tiling: bool
    encode_on_cpu: bool = False
    group_offload_type: Literal["block_level", "leaf_level"] = "leaf_level"
    use_cuda_streams: bool = True
    vae_tile: int = 256  # pixels per VAE tile side when tiling (diffusers' default), stride 3/4 of it

    @classmethod
    def preset(cls, name: str) -> MemoryOptimizationConfig:
        """The preset called `name` (none, conservative, balanced, aggressive)."""
        presets = {
            "none": cls("none", "none", vae_tiling=False),
            "conservative": cls("conservative", "none", vae_tiling=True),
            "balanced": cls("balanced", "model", vae_tiling=True),
            "aggressive": cls("aggressive", "group", vae_tiling=True, encode_on_cpu=True),
        }
        try:
            return presets[name]
        except KeyError:
            raise ValueError(
                f"memory preset must be one of auto, {', '.join(PRESET_ORDER)} (got {name!r})"
            ) from None

    @classmethod
    def optimize_for_system(cls, vram_gb: float | None) -> MemoryOptimizationConfig:
        """Pick a preset for a GPU with `vram_gb` GiB (None: no GPU, nothing to offload)."""
        if vram_gb is None:
            return cls.preset("none")
        if vram_gb < AGGRESSIVE_BELOW_GB:
            return cls.preset("aggressive")
        if vram_gb < BALANCED_BELOW_GB:
            return cls.preset("balanced")
        return cls.preset("conservative")

    def more_aggressive(self) -> MemoryOptimizationConfig | None:
        """The next preset that uses less GPU memory, or None after the aggressive one."""
        index = PRESET_ORDER.index(self.name)
        return None if index + 1 == len(PRESET_ORDER) else self.preset(PRESET_ORDER[index + 1])


def detect_vram_gb() -> float | None:
    """Total memory of the first CUDA GPU in GiB, or None without one (imports torch)."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / 1024**3


def resolve_memory(preset: str, vram_gb: float | None = None) -> MemoryOptimizationConfig:
    """The preset of a settings value: auto picks from the GPU (detected unless given)."""
    if preset == "auto":
        return MemoryOptimizationConfig.optimize_for_system(detect_vram_gb() if vram_gb is None else vram_gb)
    return MemoryOptimizationConfig.preset(preset)
