"""The frames of the output video, taken from the model's frames by exact time.

Output frame j (time j / fps) shows the model frame nearest in time (j * model_fps / fps,
rounded half down), computed with integer arithmetic so it never drifts from the prompt
schedule. This is what the video shows when interpolation is off; frame interpolation
(wan.post's interpolation, when enabled) synthesises in-betweens at the same positions.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..timebase import Timebase


def nearest_model_frames(output_frames: int, output_fps: float, model_fps: float) -> np.ndarray:
    """For each output frame, the index of the model frame nearest to it in time."""
    ratio = Timebase.of(output_fps, model_fps).ratio
    numerator, denominator = ratio.numerator, ratio.denominator
    frames = np.arange(output_frames, dtype=np.int64)
    # round half down: floor(j * n / d + 1/2 - epsilon) == ceil((2 j n - d) / (2 d))
    return -((-(2 * frames * numerator - denominator)) // (2 * denominator))


def model_position(output_frame: int, output_fps: float, model_fps: float) -> Fraction:
    """Exact position of an output frame on the model's frame axis."""
    return Timebase.of(output_fps, model_fps).model_position(output_frame)
