"""The result of a movement analysis: frozen, JSON round-trippable."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Movement:
    """One camera movement found in a window.

    kind: pan, pedestal, dolly, tilt, yaw, roll (one channel), sway, pendulum, zigzag (one channel
    going back and forth), orbit, spiral, figure_eight (several channels together) or shake.
    """

    kind: str
    direction: str
    intensity: str
    duration: str
    words: str
    strength: float
    schedules: tuple[str, ...]
    period_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["schedules"] = list(self.schedules)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Movement:
        """Inverse of to_dict."""
        return cls(**{**data, "schedules": tuple(data["schedules"])})


@dataclass(frozen=True)
class MovementAnalysis:
    """The camera movement of one window of output frames [start_frame, end_frame).

    `movements` are ordered by strength; the description names the first `named` of them.
    """

    start_frame: int
    end_frame: int
    description: str
    movements: tuple[Movement, ...]
    shake: Movement | None
    named: int

    @property
    def is_static(self) -> bool:
        """No camera movement (shake aside)."""
        return not self.movements

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "description": self.description,
            "movements": [m.to_dict() for m in self.movements],
            "shake": self.shake.to_dict() if self.shake else None,
            "named": self.named,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MovementAnalysis:
        """Inverse of to_dict."""
        return cls(
            start_frame=data["start_frame"],
            end_frame=data["end_frame"],
            description=data["description"],
            movements=tuple(Movement.from_dict(m) for m in data["movements"]),
            shake=Movement.from_dict(data["shake"]) if data.get("shake") else None,
            named=data["named"],
        )
