"""What every benchmark record says: the machine, the library versions, the command line, and
appending a dated section to a RESULTS.md."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


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


def installed(package: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def versions(*packages: str) -> str:
    """'Python x, package y, ...' for the installed packages among `packages`."""
    parts = [f"Python {platform.python_version()}"]
    for package in packages:
        found = installed(package)
        parts.append(f"{package} {found}" if found else f"{package} not installed")
    return ", ".join(parts)


def command() -> str:
    """The command line that ran this (`python -m wan ...` for the package's own commands)."""
    script = Path(sys.argv[0])
    if script.name == "__main__.py":
        return "python -m " + " ".join([script.parent.name, *sys.argv[1:]])
    return "python " + " ".join([script.as_posix(), *sys.argv[1:]])


def ms(values: list[float]) -> str:
    """Median and minimum of timings in seconds, as milliseconds."""
    return f"{statistics.median(values) * 1000:.1f} ms (min {min(values) * 1000:.1f})"


def append_section(results: Path, lines: Iterable[str], *, echo: bool = True) -> str:
    """Append a section to a RESULTS.md (created with its header when missing); returns its text."""
    text = "\n".join(lines)
    if echo:
        print(text)
    header = "" if results.exists() else "# Benchmark results\n\nEach run appends its figures here.\n\n"
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a", encoding="utf-8") as out:
        out.write(header + text + "\n")
    return text
