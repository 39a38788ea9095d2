"""Optical-flow interpolation: bidirectional flow, both neighbours warped to the in-between
time, blended where each is visible.

For a pair A (time 0), B (time 1) and an in-between time t:
1. flows A->B and B->A, once per pair, with OpenCV's DIS: `fast` the ultrafast preset at half
   size, `balanced` the medium preset (with variational refinement) at half size,
   `high_quality` the medium preset at full size. Farneback was measured too and lost on both
   speed and accuracy (benchmarks/RESULTS.md);
2. forward-backward check: a pixel of A whose flow, followed into B and back, does not return
   to where it started is occluded in B (or its flow is wrong), and likewise for B; such pixels
   keep a tiny weight, so they only count where nothing better lands;
3. each frame's flow is projected to time t: every pixel x of A is splatted to the pixel
   nearest x + t * F_AB(x), carrying the backward flow -t * F_AB(x); pixels of B likewise with
   1 - t. Where several land, the consistent ones dominate (a foreground over what it covers);
   holes are filled from their surroundings (normalised convolution);
4. A and B are warped to time t (cv2.remap) with the projected flows, at full size;
5. blend: weights (1 - t) * visibility_A and t * visibility_B, visibility being how much
   consistent source landed on the pixel — a region just uncovered is taken from the frame that
   shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# Weight of a pixel that fails the forward-backward check, and the floor of every blend weight:
# small enough that any consistent source wins, large enough to stay a number.
OCCLUDED_WEIGHT = 1e-3
WEIGHT_FLOOR = 1e-6
# Forward-backward check (Sundaram et al. 2010): |F + F_back|^2 < a (|F|^2 + |F_back|^2) + b.
CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE = 0.5


@dataclass(frozen=True)
class FlowPreset:
    """How flow is estimated for one quality preset: the algorithm, and the size (1/downscale)
    at which flow is estimated, checked and projected before the frames are warped at full size."""

    algorithm: str  # "dis" or "farneback"
    dis_preset: int = 0
    downscale: int = 1


def flow_preset(quality: str) -> FlowPreset:
    """The flow settings of a quality preset (see benchmarks/RESULTS.md for speed and accuracy)."""
    return {
        "fast": FlowPreset("dis", cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, downscale=2),
        "balanced": FlowPreset("dis", cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, downscale=2),
        "high_quality": FlowPreset("dis", cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
    }[quality]


class FlowEstimator:
    """Dense optical flow between two grey frames: F with first(x) ~ second(x + F(x))."""

    def __init__(self, preset: FlowPreset) -> None:
        self.preset = preset
        self._dis = cv2.DISOpticalFlow_create(preset.dis_preset) if preset.algorithm == "dis" else None

    def gray(self, frame: np.ndarray) -> np.ndarray:
        """A uint8 RGB frame as the grey image flow is estimated on (at 1/downscale size)."""
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self.preset.downscale > 1:
            height, width = gray.shape
            size = (max(8, width // self.preset.downscale), max(8, height // self.preset.downscale))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        return gray

    def flow(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Flow from grey `first` to grey `second`, in pixels of their size."""
        if self._dis is not None:
            return self._dis.calc(first, second, None)
        return cv2.calcOpticalFlowFarneback(first, second, None, 0.5, 5, 15, 3, 7, 1.5, 0)


def resize_flow(flow: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A flow field resized to `shape` (H, W), its vectors scaled with it."""
    if flow.shape[:2] == shape:
        return flow
    resized = cv2.resize(flow, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    resized[..., 0] *= shape[1] / flow.shape[1]
    resized[..., 1] *= shape[0] / flow.shape[0]
    return resized


def pixel_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x, y) of an image of `shape` (H, W), as float32 arrays."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    return xs, ys


def warp(image: np.ndarray, flow: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """`image` sampled at each pixel moved by `flow` (backward warping, edges repeated)."""
    return cv2.remap(
        image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _squared_length(vectors: np.ndarray) -> np.ndarray:
    return vectors[..., 0] * vectors[..., 0] + vectors[..., 1] * vectors[..., 1]


def consistency(flow: np.ndarray, back: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Per pixel of the flow's source: 1 where the flow and the reverse flow agree, else
    OCCLUDED_WEIGHT (also for flow that leaves the frame)."""
    height, width = flow.shape[:2]
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    returned = warp(back, flow, xs, ys)
    error = _squared_length(flow + returned)
    bound = CONSISTENCY_RELATIVE * (_squared_length(flow) + _squared_length(returned))
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    good = (error < bound + CONSISTENCY_ABSOLUTE) & inside
    return np.where(good, np.float32(1.0), np.float32(OCCLUDED_WEIGHT))


def project(
    flow: np.ndarray, weight: np.ndarray, t: float, xs: np.ndarray, ys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Splat every source pixel (to the nearest pixel) where it is at fraction t of its flow;
    returns the backward flow at time t (target -> source) and the weight that landed on each
    pixel."""
    height, width = weight.shape
    size = height * width
    target_x = np.rint(xs + t * flow[..., 0]).astype(np.int64)
    target_y = np.rint(ys + t * flow[..., 1]).astype(np.int64)
    inside = (target_x >= 0) & (target_x < width) & (target_y >= 0) & (target_y < height)
    index = (np.clip(target_y, 0, height - 1) * width + np.clip(target_x, 0, width - 1)).ravel()
    w = (weight * inside).ravel()
    carried = (-t * flow).reshape(-1, 2)
    total = np.bincount(index, w, size)
    flow_x = np.bincount(index, w * carried[:, 0], size)
    flow_y = np.bincount(index, w * carried[:, 1], size)
    total = total.reshape(height, width).astype(np.float32)
    sums = np.stack([flow_x, flow_y], axis=-1).reshape(height, width, 2).astype(np.float32)
    # Holes: normalised convolution fills them from the flow around them.
    blur = max(3, (min(height, width) // 16) | 1)
    spread_total = cv2.GaussianBlur(total, (blur, blur), 0)
    spread_sums = cv2.GaussianBlur(sums, (blur, blur), 0)
    landed = total[..., None] > WEIGHT_FLOOR
    filled = np.where(
        landed,
        sums / np.maximum(total, WEIGHT_FLOOR)[..., None],
        spread_sums / np.maximum(spread_total, WEIGHT_FLOOR)[..., None],
    )
    nothing_near = (spread_total <= WEIGHT_FLOOR)[..., None]
    return np.where(nothing_near, -t * flow, filled).astype(np.float32), total


class FlowInterpolator:
    """In-betweens by bidirectional optical flow, occlusion-aware (see the module doc)."""

    name = "optical_flow"

    def __init__(self, quality: str = "balanced", preset: FlowPreset | None = None) -> None:
        self.estimator = FlowEstimator(preset or flow_preset(quality))
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def grid(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (x, y) of a frame of `shape`, cached."""
        if shape not in self._grids:
            self._grids[shape] = pixel_grid(shape)
        return self._grids[shape]

    def interpolate(self, first: np.ndarray, second: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        """The frames at fractions `times` (each 0 < t < 1) of the way from `first` to `second`."""
        gray_a, gray_b = self.estimator.gray(first), self.estimator.gray(second)
        work_x, work_y = self.grid(gray_a.shape)
        forward = self.estimator.flow(gray_a, gray_b)
        backward = self.estimator.flow(gray_b, gray_a)
        weight_a = consistency(forward, backward, work_x, work_y)
        weight_b = consistency(backward, forward, work_x, work_y)
        frames = []
        for t in times:
            flow_a, seen_a = project(forward, weight_a, t, work_x, work_y)
            flow_b, seen_b = project(backward, weight_b, 1.0 - t, work_x, work_y)
            frames.append(self._blend(first, second, t, flow_a, seen_a, flow_b, seen_b))
        return frames

    def _blend(
        self,
        first: np.ndarray,
        second: np.ndarray,
        t: float,
        flow_a: np.ndarray,
        seen_a: np.ndarray,
        flow_b: np.ndarray,
        seen_b: np.ndarray,
    ) -> np.ndarray:
        shape = first.shape[:2]
        xs, ys = self.grid(shape)
        size = (shape[1], shape[0])
        flow_a, flow_b = resize_flow(flow_a, shape), resize_flow(flow_b, shape)
        seen_a = cv2.resize(seen_a, size, interpolation=cv2.INTER_LINEAR)
        seen_b = cv2.resize(seen_b, size, interpolation=cv2.INTER_LINEAR)
        warped_a, warped_b = warp(first, flow_a, xs, ys), warp(second, flow_b, xs, ys)
        share_a = (1.0 - t) * (np.minimum(seen_a, 1.0) + WEIGHT_FLOOR)
        share_b = t * (np.minimum(seen_b, 1.0) + WEIGHT_FLOOR)
        mix = (share_a / (share_a + share_b))[..., None]
        blended = warped_a * mix + warped_b * (1.0 - mix)
        return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
