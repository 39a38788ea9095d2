"""Upscaling video frames with the image upscalers users have (ESRGAN, Real-ESRGAN, SwinIR, HAT,
...: anything spandrel loads), in batches on the device, tiled so memory stays bounded at any size,
with temporal stabilisation against shimmer, streamed frame by frame."""

from .model import UpscaleError, Upscaler, load_upscaler
from .stream import UpscaledVideo, upscale_frames, upscale_video, upscaled_stream
from .temporal import TemporalStabilizer

__all__ = [
    "TemporalStabilizer",
    "UpscaleError",
    "UpscaledVideo",
    "Upscaler",
    "load_upscaler",
    "upscale_frames",
    "upscale_video",
    "upscaled_stream",
]
