"""How camera movement is described in each clip's prompt (movement_* settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .fields import Choice, Integer, Number, setting
from .group import SettingsGroup

MOVEMENT_MODES = ("off", "append", "prepend")


@dataclass(frozen=True)
class MovementOptions(SettingsGroup):
    """Where the movement phrase goes and how sensitive the analysis is."""

    PREFIX: ClassVar[str] = "movement_"

    mode: str = setting(
        "append",
        Choice(MOVEMENT_MODES),
        "Where the camera-movement phrase goes in each clip's prompt",
        label="Movement in prompts",
    )
    sensitivity: float = setting(
        1.0,
        Number(0.1, 5.0),
        "Scales how strong a movement must be to be named (higher names smaller)",
        label="Movement sensitivity",
    )
    max_phrases: int = setting(
        2,
        Integer(1, 8),
        "At most this many simultaneous movements are named",
        label="Movements named at most",
    )
