"""Streaming interpolation: output frames from a stream of input frames and the output samples.

Only two input frames and the in-betweens of one pair are in memory at a time, so a video of
any length streams through (input decoded frame by frame, output encoded frame by frame).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np

from ..resample import Sample


class Interpolator(Protocol):
    """Makes in-between frames of one pair of uint8 RGB frames."""

    name: str

    def interpolate(self, first: np.ndarray, second: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        """The frames at fractions `times` (each 0 < t < 1) of the way from `first` to `second`."""
        ...


class _Window:
    """The last two frames read from a stream, by index."""

    def __init__(self, frames: Iterable[np.ndarray]) -> None:
        self._source = iter(frames)
        self._frames: dict[int, np.ndarray] = {}
        self._last = -1

    def read_through(self, index: int) -> bool:
        """Read up to frame `index`; False when the stream ends before it."""
        while self._last < index:
            frame = next(self._source, None)
            if frame is None:
                return False
            self._last += 1
            self._frames[self._last] = frame
            self._frames.pop(self._last - 2, None)
        return True

    def __getitem__(self, index: int) -> np.ndarray:
        return self._frames[index]


def interpolate_frames(
    frames: Iterable[np.ndarray], samples: Iterable[Sample], interpolator: Interpolator
) -> Iterator[np.ndarray]:
    """The output frame of each sample, in order. Ends at the first sample whose time lies past
    the last input frame, so an endless `samples` gives exactly the documented frame count."""
    window = _Window(frames)
    pending = iter(samples)
    sample = next(pending, None)
    while sample is not None:
        if not window.read_through(math.ceil(sample.position)):
            return
        if sample.t == 0:
            yield window[sample.frame]
            sample = next(pending, None)
            continue
        group = [sample]
        sample = next(pending, None)
        while sample is not None and sample.t > 0 and sample.frame == group[0].frame:
            group.append(sample)
            sample = next(pending, None)
        first = group[0].frame
        yield from interpolator.interpolate(window[first], window[first + 1], [s.t for s in group])
