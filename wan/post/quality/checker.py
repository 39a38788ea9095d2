"""QualityChecker: the quality metrics of a video in one streaming pass.

Each frame is reduced to a small analysis copy (256 px wide); the checker keeps the previous
one, two rows of tile brightness and a few numbers per frame, so memory stays small for any
length. Scales and thresholds are in report.py (METRICS).

Frame times. A frame may come with its time on the source's frame axis (our own renders pass
the exact sample time, wan.post.resample). Then a frame with the same time as its predecessor
is an intended repeat (a held frame when interpolation is off, or strength 0): it is neither a
duplicate nor measured for motion, and changes are taken per unit of time, so uneven steps
(strength between 0 and 1) do not read as flicker or seams. Without times (any video file)
frame i is at time i, and every repeat counts as a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..color import color_stats
from ..interpolation.flow import FlowEstimator, FlowPreset, pixel_grid, warp
from .report import QualityReport

ANALYSIS_WIDTH = 256
# Mean luma under 2 % of full scale: a black frame (the render's own check uses the same level).
BLACK_LEVEL = 0.02
# Mean absolute luma difference (8-bit levels) at or below which two frames count as identical.
IDENTICAL_LEVEL = 0.25
# Identical frames in a row from which the video counts as frozen there.
FROZEN_RUN = 3
# Floor of the median flow-warp error inside clips (8-bit levels per frame), so that the seams
# of a still video are not noise divided by nearly nothing.
MIN_MOTION = 0.5
TILES = 4
# Share of frames at each end whose mean colour is compared for colour drift.
DRIFT_SHARE = 0.1


@dataclass
class _Previous:
    small: np.ndarray
    luma: np.ndarray
    time: float


def to_uint8(frame: np.ndarray) -> tuple[np.ndarray, bool]:
    """(uint8 RGB frame, whether it held NaN/inf); float frames are taken as RGB in [0, 1]."""
    if frame.dtype == np.uint8:
        return frame, False
    values = np.asarray(frame, dtype=np.float32)
    broken = not bool(np.isfinite(values).all())
    values = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8), broken


def analysis_copy(frame: np.ndarray) -> np.ndarray:
    """The frame shrunk to ANALYSIS_WIDTH pixels wide (never enlarged)."""
    height, width = frame.shape[:2]
    if width <= ANALYSIS_WIDTH:
        return frame
    size = (ANALYSIS_WIDTH, max(1, round(height * ANALYSIS_WIDTH / width)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


class QualityChecker:
    """Feed frames with `add` (uint8 RGB, or float RGB in [0, 1]), then read `report()`.
    `joins`: indices of the frames where a new clip starts."""

    def __init__(self, joins: Iterable[int] = ()) -> None:
        self.joins = tuple(sorted({int(j) for j in joins if j > 0}))
        self._flow = FlowEstimator(FlowPreset("dis", cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST))
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        self._count = 0
        self._previous: _Previous | None = None
        self._tiles: list[tuple[float, int, np.ndarray]] = []  # the last two distinct frames
        self._colors: list[tuple[float, float, float]] = []
        self._warp_errors: list[tuple[int, float]] = []
        self._flicker: list[tuple[int, float]] = []
        self._rates: dict[int, float] = {}
        self._black: list[int] = []
        self._nan: list[int] = []
        self._duplicates: list[int] = []

    def add(self, frame: np.ndarray, time: float | None = None) -> None:
        """Measure the next frame; `time` is its place on the source's frame axis (module doc)."""
        index = self._count
        self._count += 1
        pixels, broken = to_uint8(frame)
        if broken:
            self._nan.append(index)
        small = analysis_copy(pixels)
        luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        if luma.mean() < BLACK_LEVEL * 255:
            self._black.append(index)
        self._colors.append(color_stats(small[None]).mean)
        time = float(index if time is None else time)
        previous = self._previous
        if previous is not None and time <= previous.time:
            if time < previous.time:
                raise ValueError(f"frame {index}: time {time:g} is before the previous frame's")
            return  # an intended repeat
        tiles = cv2.resize(luma.astype(np.float32), (TILES, TILES), interpolation=cv2.INTER_AREA)
        self._measure_flicker(index, time, tiles)
        if previous is not None:
            if np.abs(luma.astype(np.float32) - previous.luma).mean() <= IDENTICAL_LEVEL:
                self._duplicates.append(index)
            error = self._warp_error(previous, small, luma)
            self._warp_errors.append((index, error))
            self._rates[index] = error / (time - previous.time)
        self._previous = _Previous(small, luma, time)

    def add_all(self, frames: Iterable[np.ndarray], times: Sequence[float] | None = None) -> QualityChecker:
        """Add every frame (with its time, when given); returns the checker."""
        for i, frame in enumerate(frames):
            self.add(frame, None if times is None else times[i])
        return self

    def _warp_error(self, previous: _Previous, small: np.ndarray, luma: np.ndarray) -> float:
        """Mean |frame - previous frame moved onto it by optical flow| over RGB, in 8-bit levels:
        the change that motion does not explain."""
        if self._grid is None or self._grid[0].shape != luma.shape:
            self._grid = pixel_grid(luma.shape)
        flow = self._flow.flow(luma, previous.luma)
        moved = warp(previous.small, flow, *self._grid)
        return float(np.abs(small.astype(np.float32) - moved).mean())

    def _measure_flicker(self, index: int, time: float, tiles: np.ndarray) -> None:
        """Once three distinct frames are in: the middle one's tiles against the straight line
        between its neighbours' (at the frames' times)."""
        self._tiles.append((time, index, tiles))
        if len(self._tiles) < 3:
            return
        (t0, _, before), (t1, middle, now), (t2, _, after) = self._tiles
        expected = before + (after - before) * ((t1 - t0) / (t2 - t0))
        self._flicker.append((middle, float(np.abs(now - expected).mean())))
        self._tiles.pop(0)

    def report(self) -> QualityReport:
        """The metrics of every frame added so far."""
        consistency = _mean_and_worst(self._warp_errors)
        flicker = _mean_and_worst(self._flicker)
        ratios = self._seam_ratios()
        return QualityReport(
            frames=self._count,
            temporal_consistency=consistency[0],
            flicker=flicker[0],
            seams=max(ratios.values()) if ratios else None,
            color_drift=self._color_drift(),
            artifacts=len(set(self._black) | set(self._nan) | set(self._duplicates)),
            joins=tuple(ratios),
            seam_ratios=tuple(ratios.values()),
            worst_consistency_frame=consistency[1],
            worst_flicker_frame=flicker[1],
            black_frames=tuple(self._black),
            nan_frames=tuple(self._nan),
            duplicate_frames=tuple(self._duplicates),
            frozen_runs=_runs(self._duplicates),
            flicker_series=tuple(self._flicker),
            consistency_series=tuple(self._warp_errors),
        )

    def _seam_ratios(self) -> dict[int, float]:
        """Per join that was measured: its flow-warp error per unit of time over the median of
        that inside clips (away from every join)."""
        near = {j + offset for j in self.joins for offset in (-1, 0, 1)}
        inside = [rate for index, rate in self._rates.items() if index not in near]
        if not inside:
            inside = list(self._rates.values())
        typical = max(float(np.median(inside)), MIN_MOTION) if inside else MIN_MOTION
        return {j: round(self._rates[j] / typical, 4) for j in self.joins if j in self._rates}

    def _color_drift(self) -> float | None:
        count = len(self._colors)
        if count < 2:
            return None
        share = max(1, round(count * DRIFT_SHARE))
        first = np.mean(self._colors[:share], axis=0)
        last = np.mean(self._colors[-share:], axis=0)
        return round(float(np.linalg.norm(last - first)), 4)


def _mean_and_worst(values: list[tuple[int, float]]) -> tuple[float | None, int | None]:
    if not values:
        return None, None
    worst = max(values, key=lambda item: item[1])
    return round(float(np.mean([v for _, v in values])), 4), worst[0]


def _runs(duplicates: list[int]) -> tuple[tuple[int, int], ...]:
    """(first frame, length) of each run of FROZEN_RUN or more identical frames."""
    runs: list[tuple[int, int]] = []
    start = None
    for position, index in enumerate(duplicates):
        if start is None:
            start = index
        following = duplicates[position + 1] if position + 1 < len(duplicates) else None
        if following != index + 1:
            length = index - start + 2  # the duplicates and the frame they repeat
            if length >= FROZEN_RUN:
                runs.append((start - 1, length))
            start = None
    return tuple(runs)
