"""The interpolator the interpolation settings ask for, with the neural method's fallback."""

from __future__ import annotations

from pathlib import Path

from ...config.interpolation import InterpolationOptions
from .flow import FlowInterpolator
from .linear import LinearInterpolator
from .neural import NeuralInterpolator, find_weights
from .stream import Interpolator


def build_interpolator(
    options: InterpolationOptions, *, models_dir: str | Path | None = None, device: str | None = None
) -> tuple[Interpolator, str]:
    """(the interpolator, a note for the user or ""). `neural` without a weights file falls back
    to optical_flow and says so; a weights file that does not fit is an error."""
    if options.method == "linear":
        return LinearInterpolator(), ""
    if options.method == "neural":
        path, looked = find_weights(options.weights, models_dir)
        if path is not None:
            neural = NeuralInterpolator.from_file(path, quality=options.quality, device=device)
            return neural, f"neural interpolation weights: {path}"
        note = f"no neural interpolation weights found at {looked}; using optical_flow"
        return FlowInterpolator(options.quality), note
    return FlowInterpolator(options.quality), ""
