"""Colour coherence across chained clips: each clip's colour statistics are matched to the first
clip's, in CIE Lab (mean and spread per channel, Reinhard-style), to stop the drift towards
saturation and contrast that continuing clip after clip causes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ColorStats:
    """Mean and standard deviation of L, a and b over a set of frames."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _to_lab(frames: np.ndarray) -> np.ndarray:
    import cv2

    flat = frames.reshape(-1, frames.shape[-2], 3).astype(np.float32) / 255.0
    return cv2.cvtColor(flat, cv2.COLOR_RGB2LAB).reshape(frames.shape)


def _to_rgb(lab: np.ndarray) -> np.ndarray:
    import cv2

    flat = lab.reshape(-1, lab.shape[-2], 3).astype(np.float32)
    rgb = cv2.cvtColor(flat, cv2.COLOR_LAB2RGB).reshape(lab.shape)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def color_stats(frames: np.ndarray) -> ColorStats:
    """Lab statistics of uint8 RGB frames shaped (F, H, W, 3)."""
    lab = _to_lab(frames).reshape(-1, 3)
    return ColorStats(tuple(lab.mean(axis=0).tolist()), tuple(lab.std(axis=0).tolist()))  # type: ignore[arg-type]


def match_colors(frames: np.ndarray, reference: ColorStats) -> np.ndarray:
    """The frames with their Lab mean and spread moved onto the reference's."""
    lab = _to_lab(frames)
    own = color_stats(frames)
    mean, std = np.asarray(own.mean), np.asarray(own.std)
    target_mean, target_std = np.asarray(reference.mean), np.asarray(reference.std)
    scale = np.where(std > 1e-6, target_std / np.maximum(std, 1e-6), 1.0)
    return _to_rgb((lab - mean) * scale + target_mean)
