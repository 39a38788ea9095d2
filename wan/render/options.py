"""How a render runs (RenderOptions), and which of it changes the frames (frame_factors). Light:
no torch here, so the service and the tab can say what a re-render would reuse.

`frame_factors` is a denylist, like wan.plan.fingerprint: every option counts except those that
only say where things are, what is written, or how the same frames are computed (RENDER_IGNORED,
and the lossless speed settings of SPEED_IGNORED); an option added later counts by itself.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import (
    GateOptions,
    InterpolationOptions,
    QualityOptions,
    SpeedOptions,
    UpscaleOptions,
    WanConfig,
)

# options that do not change a clip's frames: where things are and what is written (the output
# stage's interpolation, CRF and checks come after the clips), how memory is used, the device
RENDER_IGNORED = frozenset(
    {
        "device",
        "memory",
        "models_dir",
        "allow_download",
        "preview_every",
        "save_frames",
        "write_video",
        "crf",
        "max_attempts",
        "interpolation",
        "quality_checks",
        "batch_guidance",  # lossless: the two guidance passes as one batch of 2
        "quality",  # scores of the frames, not the frames
        "gate",  # a clip the gate re-rolls is stored under its new seed's fingerprint (gating.py)
        "upscale",  # the output stage's
    }
)
SPEED_IGNORED = frozenset({"attention", "compile"})  # the same computation in another order


@dataclass(frozen=True)
class RenderOptions:
    """How to render: device, memory and speed presets, where models are, what to write.
    `interpolation` None (or disabled) shows the nearest model frame at each output time."""

    device: str | None = None
    memory: str = "auto"
    speed: SpeedOptions = field(default_factory=SpeedOptions)
    models_dir: str | None = None
    allow_download: bool = False
    preview_every: int = 5
    color_coherence: bool = True
    save_frames: bool = True
    write_video: bool = True
    crf: int = 17
    max_attempts: int = 4
    interpolation: InterpolationOptions | None = None
    quality_checks: bool = True
    weights: str = "auto"
    weights_files: tuple[str, ...] = ()
    batch_guidance: str = "auto"
    quality: QualityOptions | None = None  # prompt adherence (off when None)
    gate: GateOptions | None = None  # the quality gate (off when None)
    upscale: UpscaleOptions | None = None  # upscaling the output (off when None)

    @classmethod
    def of(cls, config: WanConfig, **host: Any) -> RenderOptions:
        """The options a config asks for; `host` adds where models are, the device and what to
        write (device, models_dir, allow_download, save_frames, write_video, ...)."""
        values = {
            "memory": config.memory.preset,
            "speed": config.preview.speed_of(config.speed),  # a preview may name its own preset
            "color_coherence": config.output.color_coherence,
            "save_frames": config.output.save_frames,
            "crf": config.output.crf,
            "interpolation": config.interpolation,
            "quality_checks": config.output.quality_checks,
            "weights": config.weights.format,
            "weights_files": config.weights.files,
            "batch_guidance": config.memory.batch_guidance,
            "quality": config.quality,
            "gate": config.gate,
            "upscale": config.upscale,
        }
        return cls(**(values | host))

    def output_record(self) -> dict[str, Any]:
        """The options that decide the output stage, as metrics.json records them ("output")."""
        interpolation = self.interpolation
        record = {
            "interpolation": interpolation.values() if interpolation and interpolation.enabled else None,
            "crf": self.crf,
            "save_frames": self.save_frames,
            "write_video": self.write_video,
            "quality_checks": self.quality_checks,
        }
        if self.upscale is not None and self.upscale.enabled:  # only then: older records stay equal
            record["upscale"] = self.upscale.values()
        return json.loads(json.dumps(record))  # as it reads back from metrics.json


def frame_factors(options: RenderOptions) -> dict[str, Any]:
    """The options that change a clip's frames (see the module doc), as JSON-ready data."""
    factors: dict[str, Any] = {}
    for f in dataclasses.fields(options):
        if f.name in RENDER_IGNORED:
            continue
        value = getattr(options, f.name)
        if isinstance(value, SpeedOptions):
            value = {name: v for name, v in value.values().items() if name not in SPEED_IGNORED}
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        factors[f.name] = list(value) if isinstance(value, tuple) else value
    return factors


def config_factors(config: WanConfig, auto_picked: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The frame factors of a config's render. Which format weights `auto` loads is known only
    where the render runs (wan.models.memory picks it by the GPU's memory, and a render records
    what it picked); `auto_picked`, the factors of a take rendered with `auto` (Take.auto_picked),
    stands in for it: the same machine picks the same."""
    factors = frame_factors(RenderOptions.of(config))
    if factors["weights"] == "auto" and auto_picked:
        factors |= {key: auto_picked[key] for key in ("weights", "weights_files") if key in auto_picked}
    return factors
