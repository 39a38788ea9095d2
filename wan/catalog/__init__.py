"""What the tool knows about, as pure data: the Wan models it can load and the camera-shake
recordings. The lowest layer besides the schedules: it imports nothing else of the project."""

from .models import DEFAULT_MODEL, MODELS, ModelSpec, default_flow_shift, known_model, local_model, model_spec
from .shakify import shake_presets, shake_recordings
from .sizes import RenderSize, render_size

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ModelSpec",
    "RenderSize",
    "default_flow_shift",
    "known_model",
    "local_model",
    "model_spec",
    "render_size",
    "shake_presets",
    "shake_recordings",
]
