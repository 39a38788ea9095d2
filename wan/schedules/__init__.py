"""Deforum schedules: keyframe strings to per-frame numpy arrays, prompt and style schedules."""

from .expressions import ExpressionError, allowed_functions
from .interpolation import INTERPOLATIONS
from .keyframes import Keyframe, ScheduleError, clear_cache, evaluate_schedule, parse_keyframes
from .prompt_syntax import plain_prompt
from .prompts import PromptKeyframe, PromptSchedule, normalize_prompts, prompt_at_frames, split_negative
from .styles import StyleScheduleError, parse_style_schedule

__all__ = [
    "INTERPOLATIONS",
    "ExpressionError",
    "Keyframe",
    "PromptKeyframe",
    "PromptSchedule",
    "ScheduleError",
    "StyleScheduleError",
    "allowed_functions",
    "clear_cache",
    "evaluate_schedule",
    "normalize_prompts",
    "parse_keyframes",
    "parse_style_schedule",
    "plain_prompt",
    "prompt_at_frames",
    "split_negative",
]
