"""QualityReport: the quality metrics of one video, each on a documented scale with a threshold
above which the report warns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its unit, its scale in words, the value above which it warns, and what a
    warning means."""

    key: str
    title: str
    unit: str
    scale: str
    threshold: float
    meaning: str


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "temporal_consistency",
        "temporal consistency",
        "levels (0-255)",
        "mean flow-warp error: each frame against its predecessor moved onto it by optical flow, "
        "8-bit RGB levels (0-255) at 256 px wide; 0 = all change is motion",
        8.0,
        "frames change in ways motion does not explain (boiling texture, morphing, noise)",
    ),
    MetricSpec(
        "flicker",
        "flicker",
        "levels (0-255)",
        "mean jump of brightness in a 4x4 grid of tiles against what the neighbouring frames "
        "predict, 8-bit levels; 0 = brightness changes smoothly",
        2.0,
        "brightness jumps from frame to frame",
    ),
    MetricSpec(
        "seams",
        "seams",
        "ratio",
        "largest flow-warp error at a clip join divided by the median inside clips "
        "(per unit of content time); about 1 = the join is like any other frame",
        3.0,
        "clip joins are visible jumps",
    ),
    MetricSpec(
        "color_drift",
        "colour drift",
        "ΔE (CIE76)",
        "CIE76 colour difference (ΔE, Lab) between the mean colour of the first and of the last "
        "10 % of frames; 2.3 is just noticeable",
        10.0,
        "the colours shift over the video",
    ),
    MetricSpec(
        "artifacts",
        "artifacts",
        "frames",
        "number of frames that are black (mean luma < 2 %), hold NaN values, or repeat their "
        "predecessor unexpectedly (duplicated; 3 or more in a row: frozen)",
        0.0,
        "broken frames",
    ),
)


@dataclass(frozen=True)
class QualityReport:
    """The metrics of one video (None where too few frames or no joins to measure), with the
    frames behind them. Frame indices count from 0 in the video measured."""

    frames: int
    temporal_consistency: float | None
    flicker: float | None
    seams: float | None
    color_drift: float | None
    artifacts: int
    joins: tuple[int, ...] = ()
    seam_ratios: tuple[float, ...] = ()
    worst_consistency_frame: int | None = None
    worst_flicker_frame: int | None = None
    black_frames: tuple[int, ...] = ()
    nan_frames: tuple[int, ...] = ()
    duplicate_frames: tuple[int, ...] = ()
    frozen_runs: tuple[tuple[int, int], ...] = ()
    # per frame, for plots: (frame, flicker) and (frame, flow-warp error)
    flicker_series: tuple[tuple[int, float], ...] = ()
    consistency_series: tuple[tuple[int, float], ...] = ()

    def values(self) -> dict[str, float | None]:
        """Each metric's value by key."""
        return {spec.key: getattr(self, spec.key) for spec in METRICS}

    @property
    def warnings(self) -> tuple[str, ...]:
        """One human-readable line for each metric above its threshold."""
        lines = []
        for spec in METRICS:
            value = getattr(self, spec.key)
            if value is None or value <= spec.threshold:
                continue
            lines.append(
                f"{spec.title} {value:.3g} is above {spec.threshold:g}: {spec.meaning}{self._where(spec.key)}"
            )
        return tuple(lines)

    def _where(self, key: str) -> str:
        if key == "temporal_consistency" and self.worst_consistency_frame is not None:
            return f" (worst at frame {self.worst_consistency_frame})"
        if key == "flicker" and self.worst_flicker_frame is not None:
            return f" (worst at frame {self.worst_flicker_frame})"
        if key == "seams":
            worst = max(range(len(self.seam_ratios)), key=self.seam_ratios.__getitem__)
            return f" (worst at the join before frame {self.joins[worst]})"
        if key == "artifacts":
            parts = [
                f"{name} {_frames(indices)}"
                for name, indices in (
                    ("black", self.black_frames),
                    ("NaN", self.nan_frames),
                    ("duplicated", self.duplicate_frames),
                )
                if indices
            ]
            parts += [f"frozen {start}-{start + length - 1}" for start, length in self.frozen_runs[:3]]
            return " (" + "; ".join(parts) + ")"
        return ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, each metric with its scale and threshold, and the warnings."""
        data = asdict(self)
        del data["flicker_series"], data["consistency_series"]
        data["series"] = {
            "flicker": [[frame, round(value, 3)] for frame, value in self.flicker_series],
            "temporal_consistency": [[frame, round(value, 3)] for frame, value in self.consistency_series],
        }
        data["frozen_runs"] = [list(run) for run in self.frozen_runs]
        for key in ("joins", "seam_ratios", "black_frames", "nan_frames", "duplicate_frames"):
            data[key] = list(data[key])
        data["metrics"] = {
            spec.key: {
                "value": getattr(self, spec.key),
                "threshold": spec.threshold,
                "unit": spec.unit,
                "scale": spec.scale,
                "warn": getattr(self, spec.key) is not None and getattr(self, spec.key) > spec.threshold,
            }
            for spec in METRICS
        }
        data["warnings"] = list(self.warnings)
        return data

    def table(self) -> str:
        """The metrics as a text table, then the warnings."""
        rows = [("metric", "value", "warn above", "unit")]
        for spec in METRICS:
            value = getattr(self, spec.key)
            shown = "-" if value is None else (str(value) if isinstance(value, int) else f"{value:.2f}")
            rows.append((spec.title, shown, f"{spec.threshold:g}", spec.unit))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}" for row in rows
        ]
        warnings = self.warnings
        lines += ["", "warnings:", *(f"  - {w}" for w in warnings)] if warnings else ["", "no warnings"]
        return "\n".join(lines)


def _frames(indices: tuple[int, ...]) -> str:
    shown = ", ".join(str(i) for i in indices[:5])
    return shown + (f" and {len(indices) - 5} more" if len(indices) > 5 else "")
