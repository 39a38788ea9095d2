"""The memory and speed presets a profile recommends for this machine, from what it measured.

Memory (CUDA): the peak of the run against the GPU's memory, with 10 % kept free for the
allocator's fragmentation and other processes.
- Measured with everything resident (none, conservative): keep that preset while its peak fits;
  if it does not, the next preset down.
- Measured with offloading (balanced, aggressive): what a resident preset would need is estimated
  as the peak plus the weights that were not on the GPU at the peak (balanced: the VAE; aggressive:
  the transformer's weights too); conservative is recommended when that fits, said as estimated.
- A preset that ran out of memory is never recommended; the one that ran is.
On a CPU there is nothing to offload: none.

Speed: `quality` for results that matter (lossless); `fast` for drafts; `fastest` for previews,
with whether fp8 compute is available here (compute capability 8.9+ and torchao) and why not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..catalog.models import VAE_PARAMS
from ..config import MEMORY_PRESETS
from ..models.speed import DeviceInfo

FREE_SHARE = 0.10
GIB = 1024**3


def _peak(result: Mapping[str, Any]) -> int:
    return max((r.get("peak_memory_bytes") or 0) for r in result["stages"].values())


def memory_advice(result: Mapping[str, Any]) -> tuple[str, str]:
    """(preset, why) for the memory preset (see the module doc)."""
    used = result["memory_preset"]
    total = result.get("vram_total_bytes")
    if not total:
        return "none", "no GPU: nothing to offload (the peak shown is the process's memory)"
    usable = total * (1 - FREE_SHARE)
    peak = _peak(result)
    shown = f"peak {peak / GIB:.1f} GiB of {total / GIB:.0f} GiB"
    order = list(MEMORY_PRESETS)
    if used in ("none", "conservative"):
        if peak <= usable:
            return used, f"{shown} with {used}: it fits with {(total - peak) / GIB:.0f} GiB to spare"
        lighter = order[order.index(used) + 1]
        return lighter, f"{shown} with {used}: over {1 - FREE_SHARE:.0%} of the GPU, so {lighter}"
    weight_bytes = 2 * result.get("transformer_parameters", 0)  # bf16
    missing = VAE_PARAMS * 4 + (weight_bytes if used == "aggressive" else 0)
    resident = peak + missing
    if "conservative" not in result.get("out_of_memory", ()) and resident <= usable:
        return "conservative", (
            f"{shown} with {used}; everything resident would need about {resident / GIB:.1f} GiB "
            "(estimated: the peak plus the weights that were not on the GPU), which fits"
        )
    return used, f"{shown} with {used}; everything resident would need about {resident / GIB:.1f} GiB"


def speed_advice(result: Mapping[str, Any], device: DeviceInfo) -> tuple[str, list[str]]:
    """(preset, lines) for the speed preset (see the module doc)."""
    speed = result.get("speed") or {}
    lines = []
    kernel = speed.get("attention", "native")
    compiled = "regional torch.compile on" if speed.get("compile") else "no torch.compile"
    lines.append(f"quality for results that matter: lossless; attention {kernel}, {compiled}")
    lines.append("fast for drafts: First Block Cache 0.05 on top (lossy)")
    if device.fp8_compute and device.torchao:
        lines.append(f"fastest for previews: fp8 compute available here ({device.name}, torchao installed)")
    elif device.fp8_compute:
        lines.append("fastest for previews: this GPU has fp8 tensor cores; pip install torchao to use them")
    else:
        where = device.name or device.type
        lines.append(f"fastest for previews: without fp8 here ({where} has no fp8 tensor cores)")
    if (result.get("guidance_batching") or {}).get("enabled"):
        lines.append("guidance batching on (both guidance passes as one batch: lossless)")
    return "quality", lines


def recommend(result: Mapping[str, Any], device: DeviceInfo) -> dict[str, Any]:
    """The recommended presets and why, JSON-ready."""
    memory, why = memory_advice(result)
    speed, lines = speed_advice(result, device)
    return {"memory_preset": memory, "memory_reason": why, "speed_preset": speed, "speed_notes": lines}
