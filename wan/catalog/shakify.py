"""The Camera Shakify recordings shipped in wan/data (CC0): preset names and their curves."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def shake_recordings() -> dict[str, dict[str, Any]]:
    """Every preset's recording: name, fps and per-channel curves, by preset key."""
    text = resources.files("wan").joinpath("data/camera_shakify.json").read_text(encoding="utf-8")
    return json.loads(text)["shakes"]


def shake_presets() -> dict[str, str]:
    """Preset key -> display name, e.g. INVESTIGATION -> Investigation."""
    return {key: preset["name"] for key, preset in shake_recordings().items()}
