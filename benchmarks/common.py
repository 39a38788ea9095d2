"""What every benchmark shares: the machine it ran on, library versions, timing helpers and
appending a dated section to benchmarks/RESULTS.md."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("RESULTS.md")


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (else what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(gpu: str | None = None) -> str:
    """The CPU, its logical CPU count and the GPU used (or that none was)."""
    return f"{cpu_name()}, {os.cpu_count()} logical CPUs, " + (f"GPU: {gpu}" if gpu else "no GPU used")


def load_average() -> str:
    """The 1-minute load average (other processes on the machine make timings noisy)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # not on this platform
        return "unknown"


def versions(*packages: str) -> str:
    """'Python x, package y, ...' for the installed packages among `packages`."""
    parts = [f"Python {platform.python_version()}"]
    for package in packages:
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} not installed")
    return ", ".join(parts)


def command() -> str:
    """The command line that ran this benchmark."""
    return "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])


def ms(values: list[float]) -> str:
    """Median and minimum of timings in seconds, as milliseconds."""
    return f"{statistics.median(values) * 1000:.1f} ms (min {min(values) * 1000:.1f})"


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


def append_results(lines: Iterable[str]) -> str:
    """Print a section and append it to RESULTS.md; returns its text."""
    text = "\n".join(lines)
    print(text)
    header = "" if RESULTS.exists() else "# Benchmark results\n\nEach run appends its figures here.\n\n"
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(header + text + "\n")
    return text
