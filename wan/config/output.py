"""Where and how the result is written (output_* settings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from .fields import Flag, Integer, setting
from .files import LocalFolder
from .group import SettingsGroup

# Where runs go when neither the settings nor the front end (--out, --output-dir, the WebUI's
# setting) name a folder: relative to the working directory.
DEFAULT_OUTPUT_DIR = Path("outputs") / "wan-videos"


@dataclass(frozen=True)
class OutputOptions(SettingsGroup):
    """The output folder, the video's quality and what is kept beside it."""

    PREFIX: ClassVar[str] = "output_"

    dir: str = setting(
        "",
        LocalFolder("outputs", "a folder"),
        "Folder the run folder is made in (empty: the default outputs folder)",
        label="Output folder",
    )
    crf: int = setting(
        17,
        Integer(0, 51),
        "H.264 quality: lower is better and larger (17 is near lossless)",
        label="Video quality (CRF)",
    )
    color_coherence: bool = setting(
        True, Flag(), "Match each clip's colours to the first clip's", label="Colour coherence"
    )
    quality_checks: bool = setting(
        True, Flag(), "Measure flicker, seams and drift into metrics.json", label="Quality checks"
    )
    save_frames: bool = setting(
        True, Flag(), "Keep the individual frames beside the video", label="Keep frames"
    )
