"""Linear interpolation: a cross-fade between the two neighbouring frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class LinearInterpolator:
    """In-betweens as (1 - t) * first + t * second: cheap, and ghosts anything that moves."""

    name = "linear"

    def interpolate(self, first: np.ndarray, second: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        """The frames at fractions `times` (each 0 < t < 1) of the way from `first` to `second`."""
        a, b = first.astype(np.float32), second.astype(np.float32)
        return [np.clip(np.rint(a + (b - a) * t), 0, 255).astype(np.uint8) for t in times]
