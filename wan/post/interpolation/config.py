"""InterpolationConfig: how frames are synthesised between the input's frames, validated on
construction with the same validators as the settings' `interpolation_*` group."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ...config.fields import FieldError, SettingsError, Text
from ...config.settings import InterpolationOptions, WanConfig

# The settings group's own validators, so a value means the same wherever it is given.
_CHECKS: dict[str, Any] = {spec.name: spec.check for spec in InterpolationOptions.specs()}
_CHECKS["fps"] = next(spec.check for spec in WanConfig.specs() if spec.name == "fps")
_CHECKS["weights"] = Text(4096)
METHODS: tuple[str, ...] = _CHECKS["method"].options
QUALITIES: tuple[str, ...] = _CHECKS["quality"].options


@dataclass(frozen=True, kw_only=True)
class InterpolationConfig:
    """Frame interpolation to `fps`: `method` linear | optical_flow | neural, `strength` 0-1 (how
    much in-betweens are synthesised rather than held), `quality` fast | balanced | high_quality,
    and for neural an optional weights file (else $WAN_INTERPOLATION_WEIGHTS or the models folder)."""

    fps: float
    enabled: bool = True
    method: str = "optical_flow"
    strength: float = 1.0
    quality: str = "balanced"
    weights: str = ""

    def __post_init__(self) -> None:
        errors = []
        for f in fields(self):
            value = getattr(self, f.name)
            try:
                object.__setattr__(self, f.name, _CHECKS[f.name](value))
            except ValueError as exc:
                errors.append(FieldError(f.name, value, str(exc)))
        if errors:
            raise SettingsError(errors)

    @classmethod
    def from_options(cls, options: InterpolationOptions, *, fps: float) -> InterpolationConfig:
        """The interpolation a settings file asks for, to its output fps."""
        return cls(
            fps=fps,
            enabled=options.enabled,
            method=options.method,
            strength=options.strength,
            quality=options.quality,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for metrics.json)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
