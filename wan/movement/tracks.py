"""One channel's motion inside a window: how fast, how long, which way, and whether it swings.

Everything except the noise gate is invariant to scaling the motion: the frames that count as
*active* are those moving at least ACTIVE_FRACTION of the window's typical (90th percentile)
speed, so making a movement faster can raise its intensity but never change which frames,
directions or patterns are found.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .conventions import Channel, Measure

INTENSITIES = ("subtle", "gentle", "moderate", "strong")
DURATIONS = ("brief", "extended", "sustained")

# Rates per second (see conventions): (not named below, subtle below, gentle below, moderate
# below); above the last is strong. Chosen by how long the move takes to be noticed:
# * screen (frame widths/s): 0.01 takes 100 s to cross the frame (invisible in a clip); 0.06 is
#   a drift (~17 s per frame width); 0.15 a slow deliberate pan (~7 s); 0.4 brisk (2.5 s).
# * dolly (log scale/s): 0.003 grows the picture 0.3 %/s; 0.03 doubles it in ~23 s (a creep);
#   0.1 in ~7 s; 0.3 in ~2.3 s.
# * roll (degrees/s): 0.3 is 20 minutes a turn; 3 deg/s two minutes; 10 deg/s 36 s; 30 deg/s 12 s.
THRESHOLDS: dict[Measure, tuple[float, float, float, float]] = {
    "screen": (0.01, 0.06, 0.15, 0.40),
    "dolly": (0.003, 0.03, 0.10, 0.30),
    "roll": (0.3, 3.0, 10.0, 30.0),
}
# A frame is active when it moves at least this share of the window's 90th-percentile speed.
ACTIVE_FRACTION = 0.25
# Share of the window in which a movement is active: below 0.4 brief, below 0.8 extended, else
# sustained (a sustained move runs through nearly the whole clip; a brief one under ~2/5 of it).
BRIEF_SHARE = 0.4
SUSTAINED_SHARE = 0.8
# A movement has a direction when at least this share of its distance goes one way.
COHERENT_SHARE = 0.6
# Wobbles smaller than this share of the typical speed do not count as turning back.
TURN_FRACTION = 0.05


def intensity_level(rate: float, measure: Measure) -> float | None:
    """A continuous intensity for a rate: 0-1 subtle, 1-2 gentle, 2-3 moderate, 3+ strong;
    None below the noise gate. Monotonic in the rate."""
    noise, subtle, gentle, moderate = THRESHOLDS[measure]
    if rate < noise:
        return None
    if rate < subtle:
        return (rate - noise) / (subtle - noise)
    if rate < gentle:
        return 1.0 + (rate - subtle) / (gentle - subtle)
    if rate < moderate:
        return 2.0 + (rate - gentle) / (moderate - gentle)
    return 3.0 + (rate - moderate) / moderate


def intensity_word(level: float) -> str:
    """subtle / gentle / moderate / strong for an intensity level."""
    return INTENSITIES[min(int(level), len(INTENSITIES) - 1)]


def duration_word(share: float) -> str:
    """brief / extended / sustained for the share of the window a movement is active."""
    if share < BRIEF_SHARE:
        return DURATIONS[0]
    return DURATIONS[1] if share < SUSTAINED_SHARE else DURATIONS[2]


@dataclass(frozen=True)
class Track:
    """Statistics of one channel's smooth rates inside a window."""

    channel: Channel
    rates: np.ndarray
    fps: float
    sensitivity: float

    @property
    def speeds(self) -> np.ndarray:
        """Unsigned rates."""
        return np.abs(self.rates)

    @cached_property
    def reference(self) -> float:
        """The window's typical speed: its 90th percentile, or the peak for brief bursts."""
        if not len(self.rates):
            return 0.0
        typical = float(np.percentile(self.speeds, 90))
        return typical if typical > 0 else float(self.speeds.max())

    @cached_property
    def active(self) -> np.ndarray:
        """Frames that move at least ACTIVE_FRACTION of the typical speed."""
        reference = self.reference
        if reference <= 0:
            return np.zeros(len(self.rates), dtype=bool)
        return self.speeds >= ACTIVE_FRACTION * reference

    def level_of(self, mask: np.ndarray) -> float | None:
        """Intensity level of the mean speed over the frames of `mask` (None if not named)."""
        if not mask.any():
            return None
        return intensity_level(float(self.speeds[mask].mean()) * self.sensitivity, self.channel.measure)

    @cached_property
    def distances(self) -> tuple[float, float]:
        """Distance travelled in the positive and in the negative direction (rate units x s)."""
        positive = float(self.rates[self.rates > 0].sum()) / self.fps
        negative = float(-self.rates[self.rates < 0].sum()) / self.fps
        return positive, negative

    @property
    def dominant_sign(self) -> int:
        """+1 or -1: the direction that carries most of the distance (0 if none moved)."""
        positive, negative = self.distances
        if positive == negative == 0:
            return 0
        return 1 if positive >= negative else -1

    @property
    def coherence(self) -> float:
        """Share of the distance travelled in the dominant direction (0.5 = back and forth)."""
        positive, negative = self.distances
        total = positive + negative
        return max(positive, negative) / total if total > 0 else 0.0

    def directional_mask(self) -> np.ndarray:
        """Active frames moving in the dominant direction."""
        return self.active & (np.sign(self.rates) == self.dominant_sign)

    @cached_property
    def turns(self) -> np.ndarray:
        """Fractional frame positions where the motion reverses (zero crossings of the rate)."""
        reference = self.reference
        if reference <= 0:
            return np.zeros(0)
        index = np.flatnonzero(self.speeds >= TURN_FRACTION * reference)
        if len(index) < 2:
            return np.zeros(0)
        values = self.rates[index]
        change = np.flatnonzero(np.sign(values[1:]) != np.sign(values[:-1]))
        before, after = index[change], index[change + 1]
        weight = np.abs(self.rates[before]) / (np.abs(self.rates[before]) + np.abs(self.rates[after]))
        return before + weight * (after - before)

    @property
    def period_seconds(self) -> float | None:
        """Period of an oscillation from its reversals (two per period), or None."""
        turns = self.turns
        if len(turns) < 2:
            return None
        return 2.0 * float(turns[-1] - turns[0]) / (len(turns) - 1) / self.fps

    @property
    def crest_factor(self) -> float:
        """Peak over RMS of the rate between the first and last reversal: ~1.41 for a sine
        (pendulum), ~1.0 for a square wave (zig-zag: constant speed, sudden reversals)."""
        turns = self.turns
        span = (
            self.rates[int(np.ceil(turns[0])) : int(np.floor(turns[-1])) + 1]
            if len(turns) >= 2
            else self.rates
        )
        if not len(span):
            span = self.rates
        rms = float(np.sqrt(np.mean(span**2)))
        return float(np.abs(span).max()) / rms if rms > 0 else 0.0
