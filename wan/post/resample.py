"""The frames of the output video, placed on the input's frame axis by exact time.

Output frame j (time j / fps) lies at position p = j * input_fps / fps on the input's frame
axis (model frames for our own videos), computed with exact fractions so it never drifts from
the prompt schedule. Without interpolation it shows the input frame nearest in time (rounded
half down). With interpolation it shows the in-between at fraction t = p - floor(p) of the way
from frame floor(p) to the next; `strength` s pulls that point towards the nearest frame:
t' = t * s when frame floor(p) is nearer, else 1 - (1 - t) * s. So s = 0 holds the nearest
frame (exactly the frames without interpolation) and s = 1 synthesises every in-between.

Frame counts: an input of N frames gives floor((N - 1) * fps / input_fps) + 1 output frames —
every output time lies within the input's time span (Timebase.output_frames_within). A plan
does the reverse: it generates enough model frames for its output frames
(Timebase.model_frames_for), so its output count is exactly `max_frames`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Sample:
    """What output frame `index` shows: input frame `frame` when `t` is 0, else the in-between
    at fraction `t` (0 < t < 1) of the way from `frame` to `frame + 1`."""

    index: int
    frame: int
    t: float
    position: Fraction

    @property
    def time(self) -> float:
        """Where the picture shown lies on the input's frame axis (after strength)."""
        return self.frame + self.t


def output_samples(output_fps: float, input_fps: float, strength: float = 1.0) -> Iterator[Sample]:
    """The samples of output frames 0, 1, 2, ... (endless; see the module doc)."""
    ratio = Timebase.of(output_fps, input_fps).ratio
    pull = Fraction(str(strength))
    if not 0 <= pull <= 1:
        raise ValueError(f"strength must be from 0 to 1 (got {strength})")
    for index in itertools.count():
        position = index * ratio
        frame = position.numerator // position.denominator
        t = position - frame
        # pulled towards the nearer frame: the next one when t > 1/2 (rounding half down)
        t = 1 - (1 - t) * pull if t > Fraction(1, 2) else t * pull
        fraction = float(t)
        if fraction >= 1.0:  # the next frame itself (also when t rounds to 1 as a float)
            frame, fraction = frame + 1, 0.0
        yield Sample(index, frame, fraction, position)


def plan_samples(output_frames: int, output_fps: float, input_fps: float, strength: float) -> list[Sample]:
    """The samples of the first `output_frames` output frames."""
    return list(itertools.islice(output_samples(output_fps, input_fps, strength), output_frames))


def output_frame_count(input_frames: int, output_fps: float, input_fps: float) -> int:
    """Output frames made from `input_frames` input frames (all within the input's time span)."""
    return Timebase.of(output_fps, input_fps).output_frames_within(input_frames)


def output_joins(times: Sequence[float], input_joins: Sequence[int]) -> list[int]:
    """For each join before input frame k (a new clip starts at k), the first output frame whose
    picture lies past the middle between k - 1 and k (`times`: Sample.time of each output
    frame): where the new clip takes over."""
    found = np.searchsorted(np.asarray(times, dtype=np.float64), np.asarray(input_joins) - 0.5, side="left")
    return sorted({int(j) for j in found if 0 < j < len(times)})
