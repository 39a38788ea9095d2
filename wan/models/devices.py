"""The CUDA devices of this process: name, memory, free memory, compute capability, and the
memory preset `auto` picks for each.

Indices are the ones this process sees; `physical_index` is the machine's own index when
CUDA_VISIBLE_DEVICES narrows what the process sees (each worker of a multi-GPU server sees one
GPU as cuda:0), so a report names the GPU a user knows from nvidia-smi.
"""

from __future__ import annotations

import os
from typing import Any

from ..config.memory import preset_for_vram

VISIBLE_VARIABLE = "CUDA_VISIBLE_DEVICES"


def visible_indices(environment: dict[str, str] | None = None) -> list[str] | None:
    """The entries of CUDA_VISIBLE_DEVICES (indices or UUIDs), or None when it is not set."""
    value = (environment if environment is not None else os.environ).get(VISIBLE_VARIABLE)
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def physical_index(index: int, environment: dict[str, str] | None = None) -> int | str:
    """The machine's index of this process's cuda:`index` (itself without CUDA_VISIBLE_DEVICES;
    the entry as written when it is a UUID)."""
    visible = visible_indices(environment)
    if visible is None or index >= len(visible):
        return index
    entry = visible[index]
    return int(entry) if entry.isdigit() else entry


def describe_gpu(
    index: int, name: str, total_bytes: int, free_bytes: int, capability: tuple[int, int]
) -> dict:
    """One GPU as /system, `models --system` and the workers report it."""
    vram_gb = round(total_bytes / 2**30, 2)
    return {
        "index": index,
        "physical_index": physical_index(index),
        "name": name,
        "vram_gb": vram_gb,
        "free_gb": round(free_bytes / 2**30, 2),
        "compute_capability": f"{capability[0]}.{capability[1]}",
        "memory_preset": preset_for_vram(vram_gb).name,
    }


def probe_gpus() -> list[dict[str, Any]]:
    """Every CUDA device of this process (imports torch; [] without torch or without a GPU)."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        properties = torch.cuda.get_device_properties(index)
        free, total = torch.cuda.mem_get_info(index)
        gpus.append(describe_gpu(index, properties.name, total, free, (properties.major, properties.minor)))
    return gpus


def device_vram_gb(device: Any = None) -> float | None:
    """Total memory in GiB of the CUDA device a render uses (`device`, else the current one), or
    None when it is not a CUDA device (imports torch)."""
    import torch

    if not torch.cuda.is_available():
        return None
    chosen = torch.device(device) if device is not None else torch.device("cuda")
    if chosen.type != "cuda":
        return None
    index = chosen.index if chosen.index is not None else torch.cuda.current_device()
    return torch.cuda.get_device_properties(index).total_memory / 2**30
