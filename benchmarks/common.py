"""What every benchmark script shares (the library's wan.bench.record and wan.bench.timing), with
RESULTS.md next to this file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from wan.bench.record import append_section, command, cpu_name, load_average, machine, ms, versions
from wan.bench.timing import take_turns, timed

RESULTS = Path(__file__).with_name("RESULTS.md")

__all__ = [
    "RESULTS",
    "append_results",
    "command",
    "cpu_name",
    "load_average",
    "machine",
    "ms",
    "take_turns",
    "timed",
    "versions",
]


def append_results(lines: Iterable[str]) -> str:
    """Print a section and append it to benchmarks/RESULTS.md; returns its text."""
    return append_section(RESULTS, lines)
