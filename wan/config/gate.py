"""The quality gate (quality_gate_* settings): thresholds a clip must meet, else it is rendered
again with the next seed, up to a number of attempts; the best attempt is kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .fields import Converted, FieldError, Flag, Integer, Number, setting
from .group import SettingsGroup

MAX_ATTEMPTS = 10


def _unless_null(check: Integer | Number) -> Converted:
    """`check`, or null for a threshold that is not checked."""

    def convert(value: Any) -> Any:
        return None if value is None else check(value)

    return Converted(convert, f"{check.describe()}, or null (not checked)")


@dataclass(frozen=True)
class GateOptions(SettingsGroup):
    """Per-clip thresholds (null: not checked) and how many renders a clip may take."""

    PREFIX: ClassVar[str] = "quality_gate_"

    enabled: bool = setting(
        False,
        Flag(),
        "Re-render a clip that fails a threshold below with the next seed",
        label="Quality gate",
    )
    attempts: int = setting(
        3,
        Integer(1, MAX_ATTEMPTS),
        "Renders a clip may take in all (the first included); the best one is kept",
        label="Gate: attempts per clip",
    )
    max_black_frames: int | None = setting(
        0,
        _unless_null(Integer(0, 10_000)),
        "Black frames (mean luma under 2 %) a clip may have (null: not checked)",
        label="Gate: black frames at most",
    )
    max_frozen_frames: int | None = setting(
        None,
        _unless_null(Integer(0, 10_000)),
        "Frames in frozen runs (3 or more identical frames) a clip may have (null: not checked)",
        label="Gate: frozen frames at most",
    )
    max_flicker: float | None = setting(
        None,
        _unless_null(Number(0.0, 255.0)),
        "Mean flicker of the clip in 8-bit levels (the report warns above 2; null: not checked)",
        label="Gate: flicker at most",
    )
    max_seam: float | None = setting(
        None,
        _unless_null(Number(0.0, 1000.0)),
        "Seam ratio with the previous clip (1 = like any frame; the report warns above 3; null: not checked)",
        label="Gate: seam at most",
    )
    min_clip_score: float | None = setting(
        None,
        _unless_null(Number(0.0, 100.0)),
        "CLIP score of the clip against its prompt, 0-100 (needs quality_adherence; null: not checked)",
        label="Gate: CLIP score at least",
    )

    def thresholds(self) -> dict[str, float]:
        """The thresholds in force, by measure name (black_frames, frozen_frames, flicker, seam,
        clip_score)."""
        values = {
            "black_frames": self.max_black_frames,
            "frozen_frames": self.max_frozen_frames,
            "flicker": self.max_flicker,
            "seam": self.max_seam,
            "clip_score": self.min_clip_score,
        }
        return {name: float(value) for name, value in values.items() if value is not None}

    def _rule_something_to_check(self) -> list[FieldError]:
        if self.enabled and not self.thresholds():
            message = (
                "the gate is on but every threshold is null: set at least one quality_gate_max_* / min_*"
            )
            return [FieldError("quality_gate_enabled", self.enabled, message)]
        return []
