"""Exact mapping between output frames (the animation's fps) and model frames (Wan's 16 fps).

Output frame j shows time j / fps; model frame i shows time i / model_fps. Positions are kept
as fractions, so planning, interpolation and the prompt schedule never drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


def _fraction(value: float | int | Fraction) -> Fraction:
    # str() keeps what the user wrote (29.97 -> 2997/100) instead of the binary float's expansion
    return value if isinstance(value, Fraction) else Fraction(str(value))


@dataclass(frozen=True)
class Timebase:
    """Converts frame indices between the output frame rate and the model frame rate."""

    output_fps: Fraction
    model_fps: Fraction

    @classmethod
    def of(cls, output_fps: float | int | Fraction, model_fps: float | int | Fraction) -> Timebase:
        """A Timebase from two frame rates given as numbers."""
        return cls(_fraction(output_fps), _fraction(model_fps))

    @property
    def ratio(self) -> Fraction:
        """Model frames per output frame."""
        return self.model_fps / self.output_fps

    def model_position(self, output_frame: int) -> Fraction:
        """Where output frame `output_frame` lies on the model's frame axis."""
        return output_frame * self.ratio

    def model_frames_for(self, output_frames: int) -> int:
        """Model frames needed so that every output frame's time lies within the model video."""
        return math.ceil(self.model_position(output_frames - 1)) + 1

    def output_frames_within(self, model_frames: int) -> int:
        """Output frames whose time lies within `model_frames` model frames: floor((n - 1) / ratio) + 1."""
        return math.floor((model_frames - 1) / self.ratio) + 1 if model_frames > 0 else 0

    def first_model_frame_at_or_after(self, output_frame: int) -> int:
        """The first model frame whose time is not earlier than output frame `output_frame`."""
        return math.ceil(self.model_position(output_frame))

    def first_output_frame_at_or_after(self, model_frame: int) -> int:
        """The first output frame whose time is not earlier than model frame `model_frame`."""
        return math.ceil(model_frame / self.ratio)
