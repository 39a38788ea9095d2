"""GenerationPlan: the animation cut into clips Wan can generate, as pure data that round-trips
through JSON losslessly (plan.json of every run). How a plan is made: wan.plan.create."""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, Literal

from ..movement import MovementAnalysis

PLAN_VERSION = 1
Conditioning = Literal["text", "init_image", "previous_clip"]


@dataclass(frozen=True)
class ClipPlan:
    """One generation call. Frame ranges are end-exclusive; `num_frames` is what the model
    generates: `overlap_frames` conditioning frames + the new frames + `trim_frames`.
    `prompt` is what the model is given: `base_prompt` (from the prompt schedule) with the clip's
    `style` blended in and its `movement_phrase` added, or the enhancer's rewrite of them
    (`enhancement` then says by which model, or why the rewrite was not used)."""

    index: int
    start_frame: int
    end_frame: int
    model_start_frame: int
    model_end_frame: int
    num_frames: int
    overlap_frames: int
    trim_frames: int
    prompt: str
    negative_prompt: str
    prompt_frame: int
    seed: int
    conditioning: Conditioning
    model: str
    base_prompt: str
    movement: MovementAnalysis
    style: str = ""
    movement_phrase: str = ""
    enhancement: str = ""

    @property
    def new_frames(self) -> int:
        """Model frames this clip adds to the video."""
        return self.model_end_frame - self.model_start_frame


@dataclass(frozen=True)
class GenerationPlan:
    """Everything needed to generate the video, clip by clip; JSON round-trips losslessly."""

    clips: tuple[ClipPlan, ...]
    model: str
    i2v_model: str
    width: int
    height: int
    output_frames: int
    output_fps: float
    model_fps: int
    model_frames: int
    steps: int
    guidance_scale: float
    flow_shift: float
    seed: int
    seed_behavior: str
    clip_frames: int
    clip_overlap: int
    init_image: str
    warnings: tuple[str, ...] = ()
    version: int = PLAN_VERSION
    # the low-noise expert's guidance of a two-expert model (Wan 2.2 A14B); None: one expert
    guidance_scale_2: float | None = None

    @property
    def duration_seconds(self) -> float:
        """Length of the output video in seconds."""
        return self.output_frames / self.output_fps

    @property
    def generated_frames(self) -> int:
        """Frames the model generates in total, conditioning and trimmed frames included."""
        return sum(clip.num_frames for clip in self.clips)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the plan's settings, then `clips` and `warnings` as lists."""
        data = asdict(self)
        data["clips"] = [asdict(clip) | {"movement": clip.movement.to_dict()} for clip in self.clips]
        data["warnings"] = list(self.warnings)
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The plan as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationPlan:
        """Read a plan written by to_dict (ValueError if it is not one of this version)."""
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"plan version {data.get('version')!r} is not {PLAN_VERSION}")
        names = {f.name for f in fields(cls)}
        clip_names = {f.name for f in fields(ClipPlan)}
        try:
            clips = tuple(
                ClipPlan(
                    **{k: c[k] for k in clip_names if k in c}
                    | {"movement": MovementAnalysis.from_dict(c["movement"])}
                )
                for c in data["clips"]
            )
            # fields added after a plan was written keep their defaults (guidance_scale_2)
            optional = {f.name for f in fields(cls) if f.default is not MISSING}
            values = {
                k: data[k]
                for k in names
                if k not in ("clips", "warnings") and (k in data or k not in optional)
            }
            return cls(clips=clips, warnings=tuple(data.get("warnings", ())), **values)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a generation plan: {exc}") from None
