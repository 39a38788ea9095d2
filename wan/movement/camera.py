"""The camera's motion over an animation, as signed rates per channel, split into the smooth
camera movement and the shake.

The split: Camera Shakify motion is shake by definition (its slow drift included, so a shake
preset is never mistaken for a pan). The schedules' own motion goes through a zero-phase
Gaussian low-pass at SHAKE_CUTOFF_HZ: what is slower is camera movement; what is faster is
jitter, which the analysis counts as shake when it reverses fast enough to be one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .conventions import Channel, channels_for, velocity_to_rate
from .shake import shake_velocities

# Deliberate camera moves written as schedules (pans, sways, zig-zags) repeat at most about once
# a second; hand-held shake lives at 1.5-10 Hz. A 1 Hz cut-off (-3 dB) keeps the first and
# removes the second.
SHAKE_CUTOFF_HZ = 1.0
# Gaussian with -3 dB at f: sigma = sqrt(ln(2) / 4) / (pi * f) seconds.
_SIGMA_TIMES_CUTOFF = float(np.sqrt(np.log(2.0) / 4.0) / np.pi)


def low_pass(values: np.ndarray, fps: float, cutoff_hz: float = SHAKE_CUTOFF_HZ) -> np.ndarray:
    """Zero-phase Gaussian low-pass of a per-frame signal (edges mirrored)."""
    sigma = _SIGMA_TIMES_CUTOFF / cutoff_hz * fps  # in frames
    if sigma < 0.5 or len(values) < 2:
        return values.copy()
    radius = int(np.ceil(3.0 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, radius, mode="symmetric")
    if len(values) <= radius:  # np.pad's symmetric mode repeats short signals; keep it simple
        padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


@dataclass(frozen=True)
class CameraPath:
    """Per-frame camera velocities (Deforum schedule units) of one animation."""

    mode: str
    fps: float
    frames: int
    width: int
    height: int
    schedules: Mapping[str, np.ndarray]
    shakify: Mapping[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of_schedules(
        cls,
        mode: str,
        fps: float,
        frames: int,
        width: int,
        height: int,
        schedules: Mapping[str, np.ndarray],
        *,
        shake: tuple[str, float, float] = ("None", 0.0, 0.0),
    ) -> CameraPath:
        """The path of evaluated schedules (name -> values of each of `frames` frames; the mode's
        channels are used) with a Camera Shakify preset added: `shake` is (preset, intensity,
        speed)."""
        channels = channels_for(mode)
        used = {c.schedule: schedules[c.schedule] for c in channels if c.schedule in schedules}
        name, intensity, speed = shake
        shakify = shake_velocities(
            name, intensity, speed, frames=frames, fps=fps, mode=mode, width=width, height=height
        )
        return cls(mode, fps, frames, width, height, used, shakify)

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The channels that move the camera in this mode."""
        return channels_for(self.mode)

    def _rates(self, source: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        size = {"fps": self.fps, "width": self.width, "height": self.height}
        rates = {}
        for channel in self.channels:
            values = source.get(channel.schedule)
            if values is None:
                rates[channel.schedule] = np.zeros(self.frames)
            else:
                rates[channel.schedule] = velocity_to_rate(channel.schedule, self.mode, values, **size)
        return rates

    @cached_property
    def smooth(self) -> dict[str, np.ndarray]:
        """Rates of the deliberate camera movement (the schedules, low-passed)."""
        return {name: low_pass(rate, self.fps) for name, rate in self._rates(self.schedules).items()}

    @cached_property
    def jitter(self) -> dict[str, np.ndarray]:
        """Rates of the schedules' fast part: what the low-pass removed."""
        return {name: rate - self.smooth[name] for name, rate in self._rates(self.schedules).items()}

    @cached_property
    def shakify_rates(self) -> dict[str, np.ndarray]:
        """Rates of the Camera Shakify shake."""
        return self._rates(self.shakify)
