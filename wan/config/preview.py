"""Preview fast, then render (preview_* settings): the whole plan small and quick.

A preview renders the same plan — the same clips, seeds and prompts (the movement words are
worked out at the full size, so they do not change) — at `preview_scale` of the size, with
`preview_steps` steps and, if asked, another speed preset (`preview_speed`, e.g. `lightx2v`).
The planner applies it (wan.plan.preview). "Render this" is the same settings with
`preview_enabled` false and `from_run` naming the preview's run folder: the full render then
keeps the preview's seeds and enhanced prompts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from .fields import Choice, Flag, Integer, Number, setting
from .group import SettingsGroup
from .speed import SPEED_ALIASES, SPEED_PRESETS, SpeedOptions

PREVIEW_SPEEDS = ("same", *SPEED_PRESETS)
# the smallest preview side: one latent of Wan's VAE (8 px) per patch (2), twice
MIN_PREVIEW_SIDE = 32
SIZE_STEP = 16


@dataclass(frozen=True)
class PreviewOptions(SettingsGroup):
    """Whether this run is a quick preview, and how small and fast it is."""

    PREFIX: ClassVar[str] = "preview_"

    enabled: bool = setting(
        False,
        Flag(),
        "Render a quick preview: the same clips, seeds and prompts, smaller and with fewer steps",
        label="Preview (fast)",
    )
    scale: float = setting(
        0.5,
        Number(0.1, 1.0),
        "Preview size as a share of Width and Height (rounded to multiples of 16, at least 32 px)",
        label="Preview scale",
    )
    steps: int | None = setting(
        None,
        Integer(1, 200, optional=True),
        "Preview denoising steps (null: the preview speed preset's, else a third of the full steps, "
        "at least 4)",
        label="Preview steps",
    )
    speed: str = setting(
        "same",
        Choice(PREVIEW_SPEEDS, SPEED_ALIASES),
        "Speed preset of the preview: same (the render's), fast, fastest, or a step-distilled one, "
        "lightx2v or causvid (needs speed_lora)",
        label="Preview speed preset",
    )

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The preview's width and height for a render of width x height."""

        def side(pixels: int) -> int:
            scaled = round(pixels * self.scale / SIZE_STEP) * SIZE_STEP
            return min(pixels, max(MIN_PREVIEW_SIDE, scaled))

        return side(width), side(height)

    def sampling_steps(self, full_steps: int) -> int:
        """The preview's steps for a render of `full_steps`: never more than the render's."""
        if self.steps is not None:
            return min(self.steps, full_steps)
        preset = SPEED_PRESETS.get(self.speed)
        if preset is not None and preset.steps:
            return min(preset.steps, full_steps)
        return min(full_steps, max(4, round(full_steps / 3)))

    def guidance(self, full_guidance: float) -> float:
        """The preview's guidance scale (a step-distilled preset runs without guidance)."""
        preset = SPEED_PRESETS.get(self.speed)
        return preset.guidance_scale if preset is not None and preset.guidance_scale else full_guidance

    def speed_of(self, speed: SpeedOptions) -> SpeedOptions:
        """The speed settings a render uses: the preview's preset when this is a preview that
        names one, else `speed` unchanged."""
        if not self.enabled or self.speed == "same" or self.speed == speed.preset:
            return speed
        return dataclasses.replace(speed, preset=self.speed)
