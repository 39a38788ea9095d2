"""Attention kernels through diffusers' attention dispatch: which are available on a device,
which is fastest at the clip's size (measured, not assumed), and pinning one on a model.

Our names and diffusers' AttentionBackendName values:
native = PyTorch's scaled_dot_product_attention, letting torch pick its kernel; flash, cudnn,
efficient = that function restricted to its FlashAttention-2, cuDNN or memory-efficient kernel;
flex = torch's flex_attention; flash_attn = the flash-attn package, where it is installed. All are
exact attention: they differ in summation order only.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any

BACKENDS = {
    "native": "native",
    "flash": "_native_flash",
    "cudnn": "_native_cudnn",
    "efficient": "_native_efficient",
    "flex": "flex",
    "flash_attn": "flash",
}
# Measured when choosing automatically; flex is left out: uncompiled it is far slower than these.
MEASURED = ("native", "flash", "cudnn", "efficient", "flash_attn")
_FASTEST: dict[tuple[Any, ...], tuple[str, dict[str, float]]] = {}


def candidate_backends(device: Any) -> list[str]:
    """The backends worth measuring on a device: PyTorch's own only on a CPU."""
    import torch

    if torch.device(device).type != "cuda":
        return ["native"]
    from diffusers.models import attention_dispatch

    names = [name for name in MEASURED if name != "flash_attn"]
    if getattr(attention_dispatch, "_CAN_USE_FLASH_ATTN", False):
        names.append("flash_attn")
    return names


def _synchronize(device: Any) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_backend(name: str, query: Any, key: Any, value: Any, *, repeats: int = 3) -> float | None:
    """Median seconds of one attention call with backend `name`, or None where it cannot run."""
    import torch
    from diffusers.models.attention_dispatch import AttentionBackendName, dispatch_attention_fn

    backend = AttentionBackendName(BACKENDS[name])
    try:
        with torch.no_grad():
            dispatch_attention_fn(query, key, value, backend=backend)  # warm-up, and does it run?
            times = []
            for _ in range(repeats):
                _synchronize(query.device)
                started = time.perf_counter()
                dispatch_attention_fn(query, key, value, backend=backend)
                _synchronize(query.device)
                times.append(time.perf_counter() - started)
    except (RuntimeError, ValueError, NotImplementedError):  # no kernel for this device/dtype/shape
        return None
    return statistics.median(times)


def measure_backends(
    device: Any, *, heads: int, head_dim: int, tokens: int, dtype: Any, repeats: int = 3
) -> dict[str, float]:
    """Seconds of a self-attention of `tokens` tokens for each backend that runs on the device."""
    import torch

    generator = torch.Generator(device="cpu").manual_seed(0)
    query, key, value = (
        torch.randn(1, tokens, heads, head_dim, generator=generator).to(device=device, dtype=dtype)
        for _ in range(3)
    )
    timings = {}
    for name in candidate_backends(device):
        seconds = time_backend(name, query, key, value, repeats=repeats)
        if seconds is not None:
            timings[name] = seconds
    return timings


def fastest_backend(
    device: Any, *, heads: int, head_dim: int, tokens: int, dtype: Any
) -> tuple[str, dict[str, float]]:
    """The fastest backend at this size and its measurements (measured once per process)."""
    import torch

    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    key = (name, heads, head_dim, tokens, str(dtype))
    if key not in _FASTEST:
        timings = measure_backends(device, heads=heads, head_dim=head_dim, tokens=tokens, dtype=dtype)
        _FASTEST[key] = (min(timings, key=timings.__getitem__) if timings else "native", timings)
    return _FASTEST[key]


def set_backend(model: Any, name: str) -> None:
    """Pin backend `name` on every attention of `model`; the process-wide default (other models of
    the host) stays as it was. RuntimeError from diffusers when the backend cannot be used."""
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    previous = _AttentionBackendRegistry._active_backend
    quiet = logging.getLogger("diffusers.models.modeling_utils")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "attention backends are an experimental feature", on each call
    try:
        model.set_attention_backend(BACKENDS[name])
    finally:
        quiet.setLevel(level)
        _AttentionBackendRegistry.set_active_backend(previous)
