"""Synthetic video with known motion, for the tests and benchmarks of interpolation and quality
checks: a textured plane that pans, and a textured square that moves over a still background."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def texture(height: int, width: int, *, seed: int = 0, cell: int = 8) -> np.ndarray:
    """Smooth random texture in [0, 1], float32 (H, W), with detail about `cell` pixels across."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((height // cell + 3, width // cell + 3)).astype(np.float32)
    fine = cv2.resize(coarse, (coarse.shape[1] * cell, coarse.shape[0] * cell), interpolation=cv2.INTER_CUBIC)
    fine = fine[cell : cell + height, cell : cell + width]
    return (fine - fine.min()) / max(float(fine.max() - fine.min()), 1e-6)


def _rgb(plane: np.ndarray, low: float, high: float) -> np.ndarray:
    """A texture as three differently shifted colour channels in [low, high] (float32)."""
    channels = [plane, np.roll(plane, 7, axis=0), np.roll(plane, 11, axis=1)]
    return (low + np.stack(channels, axis=-1) * (high - low)).astype(np.float32)


def panning_video(
    times: Sequence[float], height: int, width: int, *, speed: tuple[float, float] = (2.0, 0.0), seed: int = 0
) -> list[np.ndarray]:
    """The views at `times` (in frames, fractions allowed) of a textured plane that moves `speed`
    pixels per frame (x, y) to the right and down: ground truth for any in-between."""
    reach = max((abs(t) for t in times), default=0.0) * max(abs(speed[0]), abs(speed[1]))
    margin = int(np.ceil(reach)) + 16
    plane = _rgb(texture(height + 2 * margin, width + 2 * margin, seed=seed), 30.0, 220.0)
    frames = []
    for time in times:
        shift = np.float32([[1, 0, margin - speed[0] * time], [0, 1, margin - speed[1] * time]])
        view = cv2.warpAffine(plane, shift, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        frames.append(np.clip(np.rint(view), 0, 255).astype(np.uint8))
    return frames


def square_frame(x: int, y: int, height: int, width: int, *, size: int = 16, seed: int = 0) -> np.ndarray:
    """A bright textured square (values 190-250) with its top-left corner at (x, y), over a
    still, darker textured background (values 40-120)."""
    frame = _rgb(texture(height, width, seed=seed), 40.0, 120.0)
    frame[y : y + size, x : x + size] = _rgb(texture(size, size, seed=seed + 1, cell=4), 190.0, 250.0)
    return np.rint(frame).astype(np.uint8)


def square_centre(frame: np.ndarray, level: int = 160) -> tuple[float, float]:
    """Centre (x, y) of the pixels brighter than `level` in the red channel: the square's."""
    ys, xs = np.nonzero(frame[..., 0] > level)
    return float(xs.mean()), float(ys.mean())
