"""Frame interpolation from the model's frame rate to the output fps (interpolation_* settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .fields import Choice, Flag, Number, setting
from .files import LocalFile
from .group import SettingsGroup

INTERPOLATION_METHODS = ("linear", "optical_flow", "neural")
INTERPOLATION_QUALITIES = ("fast", "balanced", "high_quality")
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".pkl", ".ckpt")


@dataclass(frozen=True)
class InterpolationOptions(SettingsGroup):
    """How in-between frames are made when the output fps differs from the model's."""

    PREFIX: ClassVar[str] = "interpolation_"

    enabled: bool = setting(
        True, Flag(), "Interpolate to the output fps (off: frames are resampled)", label="Interpolate frames"
    )
    method: str = setting(
        "optical_flow",
        Choice(INTERPOLATION_METHODS),
        "linear, optical_flow or neural",
        label="Interpolation method",
    )
    strength: float = setting(
        1.0,
        Number(0.0, 1.0),
        "How much in-between frames are synthesised (1) rather than held (0)",
        label="Interpolation strength",
    )
    quality: str = setting(
        "balanced",
        Choice(INTERPOLATION_QUALITIES),
        "fast, balanced or high_quality",
        label="Interpolation quality",
    )
    weights: str = setting(
        "",
        LocalFile("models", WEIGHT_SUFFIXES, "an IFNet (RIFE 4.x) weights"),
        "neural: IFNet (RIFE 4.x) weights file (empty: $WAN_INTERPOLATION_WEIGHTS, else the models "
        "folder's interpolation/)",
        label="Neural interpolation weights",
    )
