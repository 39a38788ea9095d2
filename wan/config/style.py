"""A visual style blended into every prompt, optionally changing over time (style_* settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..schedules import parse_style_schedule
from .fields import Choice, Converted, Flag, Number, Text, setting
from .group import SettingsGroup

BLEND_MODES = ("overwrite", "blend", "adaptive")
# frame expressions (max_f/2) are checked against a long animation; the plan uses the real one
_STYLE_CHECK_FRAMES = 1_000_000


def style_schedule(value: Any) -> str:
    """A style schedule's text, checked for syntax (ValueError says what is wrong)."""
    text = Text(20_000)(value)
    try:
        parse_style_schedule(text, _STYLE_CHECK_FRAMES)
    except ValueError as exc:
        raise ValueError(getattr(exc, "detail", str(exc))) from None
    return text


@dataclass(frozen=True)
class StyleOptions(SettingsGroup):
    """The style's words, how much of it applies and how it changes over the animation."""

    PREFIX: ClassVar[str] = "style_"

    text: str = setting(
        "", Text(2000), "Style words added to every prompt, e.g. 'watercolor, soft light'", label="Style"
    )
    strength: float = setting(
        1.0, Number(0.0, 1.0), "How much of the style is applied (0-1)", label="Style strength"
    )
    blend_mode: str = setting(
        "blend",
        Choice(BLEND_MODES),
        "overwrite, blend, or adaptive (skips style words the prompt already implies)",
        label="Style blend mode",
    )
    schedule: str = setting(
        "",
        Converted(style_schedule, "a style schedule such as 0:(watercolor), 48:(oil painting)"),
        "Style per keyframe, in Deforum keyframe syntax: 0:(watercolor), 48:(oil painting)",
        label="Style schedule",
    )
    temporal_consistency: bool = setting(
        True,
        Flag(),
        "A clip keeps the style of the clip before it until the schedule changes it",
        label="Keep a clip's style",
    )

    @property
    def active(self) -> bool:
        """Whether any style is applied at all."""
        return self.strength > 0 and bool(self.text.strip() or self.schedule.strip())
