"""The quality report over time as a PNG: flicker per frame, temporal consistency per frame,
clip joins marked with their seam ratio, and the CLIP score of each clip as a bar over its frames
(re-rolled clips marked). Drawn with Pillow alone (numpy and PIL are all the front process has),
from the report's dict, so metrics.json can be drawn again without the video.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .report import METRICS

WIDTH = 1100
PANEL_HEIGHT = 170
LEFT, RIGHT, TOP, GAP = 70, 20, 34, 44
INK, GRID, LINE, WARN, SEAM, BAR, REROLL = (
    (30, 30, 30),
    (225, 225, 225),
    (31, 119, 180),
    (214, 39, 40),
    (214, 39, 40),
    (44, 160, 44),
    (255, 127, 14),
)
THRESHOLDS = {spec.key: spec.threshold for spec in METRICS}


@dataclass(frozen=True)
class ClipBar:
    """One clip's bar in the adherence panel: its output frames [start, end), its CLIP score and
    whether the quality gate rendered it again."""

    start: int
    end: int
    score: float
    rerolled: bool = False


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1 has one bitmap size
        return ImageFont.load_default()


class _Panel:
    """One chart: a frame axis across, values up, drawn into the shared image."""

    def __init__(self, draw: Any, top: int, frames: int, maximum: float, title: str) -> None:
        self.draw, self.top, self.frames, self.maximum = draw, top, max(frames, 1), max(maximum, 1e-6)
        self.bottom = top + PANEL_HEIGHT
        draw.rectangle((LEFT, top, WIDTH - RIGHT, self.bottom), outline=INK)
        draw.text((LEFT, top - 18), title, fill=INK, font=_font(13))
        for share in (0.0, 0.5, 1.0):
            y = self.y(self.maximum * share)
            draw.line((LEFT, y, WIDTH - RIGHT, y), fill=GRID)
            draw.text((6, y - 7), f"{self.maximum * share:.3g}", fill=INK, font=_font(11))
        for frame in sorted({round((self.frames - 1) * share) for share in (0.0, 0.25, 0.5, 0.75, 1.0)}):
            draw.text((self.x(frame) - 8, self.bottom + 3), str(frame), fill=INK, font=_font(11))

    def x(self, frame: float) -> float:
        share = min(max(frame / max(self.frames - 1, 1), 0.0), 1.0)
        return LEFT + (WIDTH - LEFT - RIGHT) * share

    def y(self, value: float) -> float:
        return self.bottom - PANEL_HEIGHT * min(max(value, 0.0), self.maximum) / self.maximum

    def series(self, points: Sequence[Sequence[float]]) -> None:
        if len(points) == 1:
            x, y = self.x(points[0][0]), self.y(points[0][1])
            self.draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=LINE)
        elif points:
            self.draw.line([(self.x(f), self.y(v)) for f, v in points], fill=LINE, width=2)

    def threshold(self, value: float) -> None:
        y = self.y(value)
        for start in range(LEFT, WIDTH - RIGHT, 12):
            self.draw.line((start, y, min(start + 6, WIDTH - RIGHT), y), fill=WARN)
        self.draw.text((WIDTH - RIGHT - 110, y - 14), f"warns above {value:g}", fill=WARN, font=_font(11))

    def joins(self, joins: Sequence[int], ratios: Sequence[float] = ()) -> None:
        for position, join in enumerate(joins):
            x = self.x(join - 0.5)
            self.draw.line((x, self.top, x, self.bottom), fill=SEAM if ratios else (150, 150, 150))
            if position < len(ratios):
                ratio = ratios[position]
                color = SEAM if ratio > THRESHOLDS["seams"] else INK
                self.draw.text((x + 3, self.top + 3), f"seam x{ratio:.2g}", fill=color, font=_font(11))


def plot_quality(
    report: Mapping[str, Any],
    target: str | Path,
    *,
    clips: Sequence[ClipBar] = (),
    title: str = "",
) -> Path:
    """Draw `report` (QualityReport.to_dict(), e.g. metrics.json's quality) into the PNG `target`:
    flicker and temporal consistency per frame with the joins, and `clips` (CLIP scores) when given."""
    from PIL import Image, ImageDraw

    frames = int(report.get("frames") or 0)
    series = report.get("series") or {}
    joins = list(report.get("joins") or [])
    ratios = list(report.get("seam_ratios") or [])
    panels = 3 if clips else 2
    height = TOP + panels * (PANEL_HEIGHT + GAP) + 10
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    heading = title or f"quality over time: {frames} frames"
    draw.text((LEFT, 6), heading, fill=INK, font=_font(15))
    top = TOP + 18
    for key, name in (("flicker", "flicker (8-bit levels)"), ("temporal_consistency", "flow-warp error")):
        points = series.get(key) or []
        highest = max([THRESHOLDS[key] * 1.5, *(value for _, value in points)])
        panel = _Panel(draw, top, frames, highest, f"{name} per frame; red lines: clip joins")
        panel.threshold(THRESHOLDS[key])
        panel.joins(joins, ratios)
        panel.series(points)
        top += PANEL_HEIGHT + GAP
    if clips:
        highest = max([40.0, *(clip.score for clip in clips)])
        panel = _Panel(
            draw, top, frames, highest, "CLIP score per clip (prompt adherence); orange: re-rolled"
        )
        for clip in clips:
            left, right = panel.x(clip.start - 0.5), panel.x(clip.end - 1.5)
            draw.rectangle(
                (left + 1, panel.y(clip.score), right - 1, panel.bottom),
                fill=REROLL if clip.rerolled else BAR,
            )
            draw.text((left + 4, panel.y(clip.score) - 14), f"{clip.score:.1f}", fill=INK, font=_font(11))
    draw.text((WIDTH - RIGHT - 40, height - 12), "frame", fill=INK, font=_font(11))
    target = Path(target)
    image.save(target)
    return target


def run_clip_bars(metrics: Mapping[str, Any], plan: Mapping[str, Any]) -> list[ClipBar]:
    """The adherence bars of a render, from metrics.json and plan.json (clips without a score are
    left out)."""
    ranges = {clip["index"]: (clip["start_frame"], clip["end_frame"]) for clip in plan.get("clips", [])}
    bars = []
    for clip in metrics.get("clips", []):
        scores = (clip.get("quality") or {}).get("adherence")
        if not scores or clip["index"] not in ranges:
            continue
        start, end = ranges[clip["index"]]
        bars.append(
            ClipBar(start, end, float(scores["clip_score"]), bool((clip.get("gate") or {}).get("rerolled")))
        )
    return bars
