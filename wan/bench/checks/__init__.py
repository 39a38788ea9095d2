"""The GPU check's registry: each check is a function that measures one thing and returns
Markdown lines for benchmarks/RESULTS.md, registered with what it needs and how long it may take.

Every module of this package is imported when the registry is read, so a branch adds its checks
by adding a module here (e.g. `quantization.py` for bitsandbytes NF4/int8 and GGUF, `parallel.py`
for context parallelism at degree 1), nothing else to edit:

    from . import Context, check

    @check("nf4", "T2V-1.3B transformer in NF4 (bitsandbytes)", seconds=60, expected=25,
           needs=("bitsandbytes",), priority=55)
    def nf4(context: Context) -> list[str]:
        scale = context.scale  # real sizes in bf16 on CUDA; tiny ones on the CPU in the dry run
        ...
        return ["| ... |"]

A check runs at tiny sizes on the CPU in the dry run (`--dry-run`, run by tests/run.sh) so that
it cannot rot; a part that only exists on CUDA says so in its lines (`context.cuda_only(...)`).
`seconds` is its hard limit on one H100/H200 (the runner stops it there), `expected` what it
usually takes (the runner skips it when less is left of the budget), `priority` its place in the
order (lower runs first: what matters most is measured before the budget runs out).
Importing this package imports no torch: checks import what they use when they run.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DRY_RUN_LIMIT = 60.0  # seconds any check may take in the dry run
DRY_RUN_SIZE = (
    1,
    64,
    64,
)  # frames, height, width of the dry run's tiny models (one frame: the code paths, cheaply)
DRY_RUN_SHARE = 0.05  # of a check's usual GPU time that the dry run expects it to take


@dataclass
class Context:
    """What a check gets: where and at what size to measure, and facts found by earlier checks
    (the matmul peak), shared within a worker and handed to the next one."""

    dry_run: bool
    facts: dict[str, Any] = field(default_factory=dict)
    _scale: Any = None

    @property
    def scale(self) -> Any:
        """The measuring scale: real sizes in bf16 on CUDA, tiny sizes on the CPU in a dry run."""
        if self._scale is None:
            from ..gpu import Scale

            self._scale = Scale.tiny(*DRY_RUN_SIZE) if self.dry_run else Scale.gpu()
        return self._scale

    def peak(self) -> float:
        """The measured matmul peak in FLOP/s (measured once)."""
        if "matmul_peak" not in self.facts:
            from ..timing import matmul_peak

            scale = self.scale
            seconds = 0.2 if self.dry_run else 2.0
            self.facts["matmul_peak"] = matmul_peak(
                scale.device, scale.dtype, size=scale.matmul_size, seconds=seconds
            )
        return float(self.facts["matmul_peak"])

    def cuda_only(self, what: str) -> str:
        """A line saying a part was not run because it needs CUDA (in the dry run)."""
        return f"- {what}: CUDA only, not run in the dry run"


@dataclass(frozen=True)
class Check:
    """One registered check (see the module doc)."""

    name: str
    title: str
    run: Callable[[Context], list[str]]
    seconds: float
    expected: float
    needs: tuple[str, ...] = ()
    priority: int = 50

    def limit(self, dry_run: bool) -> float:
        """Seconds it may take before it is stopped."""
        return min(self.seconds, DRY_RUN_LIMIT) if dry_run else self.seconds

    def estimate(self, dry_run: bool) -> float:
        """Seconds it usually takes (the dry run: a share of that)."""
        return self.expected * DRY_RUN_SHARE if dry_run else self.expected


_REGISTRY: dict[str, Check] = {}


def check(
    name: str,
    title: str,
    *,
    seconds: float,
    expected: float,
    needs: tuple[str, ...] = (),
    priority: int = 50,
) -> Callable[[Callable[[Context], list[str]]], Callable[[Context], list[str]]]:
    """Register a check (see the module doc)."""

    def register(function: Callable[[Context], list[str]]) -> Callable[[Context], list[str]]:
        if name in _REGISTRY and _REGISTRY[name].run is not function:
            raise ValueError(f"two GPU checks are named {name!r}")
        _REGISTRY[name] = Check(name, title, function, seconds, expected, tuple(needs), priority)
        return function

    return register


def registered(extra_modules: tuple[str, ...] = ()) -> dict[str, Check]:
    """Every check of this package (and of `extra_modules`), in the order they run."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    for name in extra_modules:
        importlib.import_module(name)
    ordered = sorted(_REGISTRY.values(), key=lambda c: (c.priority, c.name))
    return {c.name: c for c in ordered}
