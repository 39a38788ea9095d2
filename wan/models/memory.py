"""The memory preset a render starts with: `auto` picks one from the detected GPU (the presets
themselves, and what each does, are wan.config.memory)."""

from __future__ import annotations

from ..config.memory import MEMORY_PRESETS, MemoryPreset, preset_for_vram


def detect_vram_gb() -> float | None:
    """Total memory of the first CUDA GPU in GiB, or None without one (imports torch)."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / 1024**3


def resolve_memory(preset: str, vram_gb: float | None = None) -> MemoryPreset:
    """The preset of a validated settings value: auto picks from the GPU (detected unless given)."""
    if preset == "auto":
        return preset_for_vram(detect_vram_gb() if vram_gb is None else vram_gb)
    return MEMORY_PRESETS[preset]
