"""Frame interpolation from the input's frame rate (Wan's 16 fps) to the output fps: exact
sample times (wan.post.resample), three methods (linear, optical_flow, neural), streaming."""

from .build import build_interpolator
from .flow import FlowInterpolator
from .linear import LinearInterpolator
from .neural import NeuralInterpolator, NeuralWeightsError, find_weights
from .stream import Interpolator, interpolate_frames

__all__ = [
    "FlowInterpolator",
    "Interpolator",
    "LinearInterpolator",
    "NeuralInterpolator",
    "NeuralWeightsError",
    "build_interpolator",
    "find_weights",
    "interpolate_frames",
]
