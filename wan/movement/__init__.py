"""Camera movement analysis: Deforum camera schedules to words a video model understands."""

from .analysis import analyze_window, analyze_windows
from .camera import CameraPath
from .conventions import CHANNELS, Channel, channels_for
from .result import Movement, MovementAnalysis

__all__ = [
    "CHANNELS",
    "CameraPath",
    "Channel",
    "Movement",
    "MovementAnalysis",
    "analyze_window",
    "analyze_windows",
    "channels_for",
]
