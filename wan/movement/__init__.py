"""Camera movement analysis: Deforum camera schedules to words a video model understands."""

from .analysis import analyze_config, analyze_segments, analyze_window, prompt_windows
from .camera import CameraPath
from .conventions import CHANNELS, Channel, channels_for
from .result import Movement, MovementAnalysis
from .shake import shake_presets

__all__ = [
    "CHANNELS",
    "CameraPath",
    "Channel",
    "Movement",
    "MovementAnalysis",
    "analyze_config",
    "analyze_segments",
    "analyze_window",
    "channels_for",
    "prompt_windows",
    "shake_presets",
]
