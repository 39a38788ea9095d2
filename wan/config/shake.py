"""Camera Shakify shake added to the camera movement (Deforum's shake_* settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..catalog import shake_presets
from .fields import Converted, Number, setting
from .group import SettingsGroup


def shake_name(value: Any) -> str:
    """A preset key from its key or display name (any case); "None" for no shake."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return "None"
    if isinstance(value, str):
        wanted = value.strip().lower()
        for key, name in shake_presets().items():
            if wanted in (key.lower(), name.lower()):
                return key
    raise ValueError("must be None or a Camera Shakify preset: " + ", ".join(shake_presets()))


@dataclass(frozen=True)
class ShakeOptions(SettingsGroup):
    """Camera Shakify shake added to the camera movement."""

    PREFIX: ClassVar[str] = "shake_"

    name: str = setting(
        "None",
        Converted(shake_name, "None or a Camera Shakify preset"),
        "Camera Shakify preset (INVESTIGATION, HANDYCAM_RUN, ...), or None for no shake",
        label="Shake preset",
    )
    intensity: float = setting(
        1.0, Number(0.0, 3.0), "How strong the shake is (0-3)", label="Shake intensity"
    )
    speed: float = setting(1.0, Number(0.0, 3.0), "How fast the shake plays (0-3)", label="Shake speed")
