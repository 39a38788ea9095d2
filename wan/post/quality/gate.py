"""The quality gate's judgement of one clip: its measures (black and frozen frames, flicker, the
seam with the previous clip, the CLIP score), which thresholds it fails, and which of several
attempts is best. Pure numpy; the render loop that re-renders is wan.render.gating."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checker import QualityChecker

# frames of the previous clip put before a clip to measure the seam between them
SEAM_CONTEXT_FRAMES = 4
# which way each measure must stay: at most the threshold (max) or at least it (min)
DIRECTIONS = {
    "black_frames": "max",
    "frozen_frames": "max",
    "flicker": "max",
    "seam": "max",
    "clip_score": "min",
}
WORDS = {
    "black_frames": "black frames",
    "frozen_frames": "frozen frames",
    "flicker": "flicker",
    "seam": "seam with the previous clip",
    "clip_score": "CLIP score",
}


def measure_clip(
    frames: Sequence[np.ndarray] | np.ndarray, previous: Sequence[np.ndarray] = ()
) -> dict[str, Any]:
    """The gate's measures of a clip's new frames (uint8 RGB): black_frames, frozen_frames (frames
    in runs of 3+ identical ones), flicker (mean, 8-bit levels; None under 3 frames) and seam
    (ratio at the join with the `previous` clip's last frames; None without them)."""
    context = list(previous)[-SEAM_CONTEXT_FRAMES:]
    checker = QualityChecker([len(context)] if context else ()).add_all([*context, *frames])
    report = checker.report()
    offset = len(context)
    black = [i for i in report.black_frames if i >= offset]
    frozen = sum(
        min(start + length, offset + len(frames)) - max(start, offset)
        for start, length in report.frozen_runs
        if start + length > offset
    )
    flicker = QualityChecker().add_all(frames).report().flicker if context else report.flicker
    return {
        "black_frames": len(black),
        "frozen_frames": int(frozen),
        "flicker": flicker,
        "seam": report.seams,
    }


@dataclass(frozen=True)
class Verdict:
    """Whether measures meet the thresholds: the failures in words, and how far they miss (the
    sum of each failure's relative excess; 0 when every threshold is met)."""

    failures: tuple[str, ...] = ()
    shortfall: float = 0.0
    unmeasured: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """True when no threshold failed."""
        return not self.failures


def judge(measures: Mapping[str, Any], thresholds: Mapping[str, float]) -> Verdict:
    """Check `measures` against `thresholds` (name -> limit, see DIRECTIONS). A measure that could
    not be taken (None: a seam of the first clip, flicker of a 2-frame clip) passes."""
    failures: list[str] = []
    shortfall = 0.0
    unmeasured = []
    for name, limit in thresholds.items():
        value = measures.get(name)
        if value is None:
            unmeasured.append(name)
            continue
        if DIRECTIONS[name] == "max" and value > limit:
            failures.append(f"{WORDS[name]} {_shown(value)} > {limit:g}")
            shortfall += (value - limit) / max(abs(limit), 1.0)
        elif DIRECTIONS[name] == "min" and value < limit:
            failures.append(f"{WORDS[name]} {_shown(value)} < {limit:g}")
            shortfall += (limit - value) / max(abs(limit), 1.0)
    return Verdict(tuple(failures), round(shortfall, 6), tuple(unmeasured))


def best_attempt(verdicts: Sequence[Verdict]) -> int:
    """Index of the attempt to keep: the first that passed; else the one with the fewest failures,
    then the smallest shortfall, then the earliest."""
    if not verdicts:
        raise ValueError("no attempts to choose from")
    return min(range(len(verdicts)), key=lambda i: (len(verdicts[i].failures), verdicts[i].shortfall, i))


def _shown(value: Any) -> str:
    return str(value) if isinstance(value, int) else f"{float(value):.3g}"
