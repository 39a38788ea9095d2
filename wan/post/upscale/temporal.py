"""Temporal stabilisation of upscaled frames: an upscaler invents detail frame by frame, and the
invented detail shimmers. Each upscaled frame is blended with the previous stabilised frame moved
onto it by optical flow, where the two agree:

    out_t = up_t + strength * confidence * (warp(out_{t-1}, flow_t) - up_t)

The flow (from frame t to t-1) is estimated on the small source frames with OpenCV's DIS
(wan.post.interpolation.flow) and scaled up; `confidence` = exp(-|warped - up_t| / TOLERANCE) per
pixel, so moving edges, occlusions and scene cuts (where the warped frame disagrees) keep the new
frame, and only the fine detail that differs a little is steadied. Recursive: out_t carries
detail forward. Keeps one source and one output frame.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from ..interpolation.flow import FlowEstimator, flow_preset, pixel_grid, resize_flow, warp

# 8-bit levels of disagreement at which the previous frame's weight falls to 1/e
TOLERANCE = 12.0


class TemporalStabilizer:
    """Feed (source frame, upscaled frame) pairs in order with `add`; it returns the frame to keep."""

    def __init__(self, strength: float) -> None:
        self.strength = float(strength)
        self.flow = FlowEstimator(flow_preset("fast"))
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # (source grey, output float)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, source: np.ndarray, upscaled: np.ndarray) -> np.ndarray:
        """The stabilised upscaled frame (uint8 RGB) for the next source frame."""
        gray = self.flow.gray(source)
        current = upscaled.astype(np.float32)
        if self.strength <= 0 or self._previous is None or self._previous[1].shape != current.shape:
            self._previous = (gray, current)
            return upscaled
        previous_gray, previous_out = self._previous
        flow = resize_flow(self.flow.flow(gray, previous_gray), current.shape[:2])
        if self._grid is None or self._grid[0].shape != current.shape[:2]:
            self._grid = pixel_grid(current.shape[:2])
        moved = warp(previous_out, flow, *self._grid)
        difference = moved - current
        disagreement = np.abs(difference).mean(axis=2, keepdims=True)
        confidence = np.exp(-disagreement / TOLERANCE)
        blended = current + (self.strength * confidence) * difference
        self._previous = (gray, blended)
        return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def shimmer(frames: list[np.ndarray]) -> float:
    """Mean absolute change between consecutive frames (8-bit levels): for a still scene, how much
    the detail shimmers (used by tests and benchmarks)."""
    if len(frames) < 2:
        return 0.0
    return float(np.mean([cv2.absdiff(a, b).mean() for a, b in itertools.pairwise(frames)]))
