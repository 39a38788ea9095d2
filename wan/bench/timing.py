"""Timing calls fairly: a device synchronised around each, warm-up first, several calls taking
turns; and the matmul peak of a device, measured (the denominator of MFU)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


def synchronizer(device: Any) -> Callable[[], None]:
    """A function that waits for the device's queued work (nothing on the CPU)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def timed(
    function: Callable[[], object], repeats: int, sync: Callable[[], None] = lambda: None
) -> list[float]:
    """Seconds of `repeats` calls of `function`, `sync` (e.g. a CUDA synchronize) inside each."""
    times = []
    for _ in range(repeats):
        sync()
        started = time.perf_counter()
        function()
        sync()
        times.append(time.perf_counter() - started)
    return times


def take_turns(
    calls: Mapping[str, Callable[[], Any]],
    repeats: int,
    sync: Callable[[], None] = lambda: None,
    warm_up: Mapping[str, Callable[[], Any]] | None = None,
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Warm every call up (with its own call unless `warm_up` has a cheaper one), then `repeats`
    rounds in which the calls take turns, so that a busy machine slows them alike; each call's
    seconds and its last result."""
    for name, call in calls.items():
        (warm_up or {}).get(name, call)()
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, call in calls.items():
            sync()
            started = time.perf_counter()
            results[name] = call()
            sync()
            seconds[name].append(time.perf_counter() - started)
    return seconds, results


def matmul_peak(device: Any, dtype: Any, *, size: int, seconds: float = 2.0) -> float:
    """FLOP/s of the fastest of three timed loops of size x size matmuls in `dtype` on `device`:
    what this device reaches on the operation the model spends most of its time in."""
    import torch

    sync = synchronizer(device)
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    torch.matmul(a, b)
    once = timed(lambda: torch.matmul(a, b), 3, sync)
    loops = max(1, int(seconds / max(min(once), 1e-6)))
    best = min(timed(lambda: [torch.matmul(a, b) for _ in range(loops)], 3, sync))
    return 2 * size**3 * loops / best
