"""GenerationPlan: the animation cut into clips Wan can generate. Pure data; no torch.

How a plan is made (create_plan):
1. The animation's duration is laid on the model's frame axis (16 fps for Wan 2.1): output
   frame j sits at model position j * 16 / fps, and enough model frames are planned to cover
   the last output frame (Timebase).
2. Every prompt keyframe becomes a cut at the first model frame not earlier than it, so a
   prompt never starts before its keyframe. A prompt that would get fewer than
   MIN_SEGMENT_FRAMES model frames is merged away (reported in `warnings`).
3. Each prompt segment is split into as few clips as fit `clip_frames`, balanced in length.
   Clip k > 0 first regenerates the last `overlap` frames of what came before (its
   conditioning, dropped when joined); every clip generates 4n+1 frames, and only the last clip
   of a segment may generate up to 3 extra frames at its end that are dropped ("trim") so the
   cut lands exactly on the prompt keyframe.
4. Seeds follow the Deforum seed behaviour, one step per clip.
5. Each clip's style is taken from the style settings (wan.prompts.style: base text or
   schedule, blend mode, strength) and blended into its prompt.
6. Each clip's camera motion is described in words (wan.movement) and added to its prompt
   (movement_mode append / prepend / off); the plan keeps the structured analysis.
Prompt enhancement (wan.prompts.planning.enhance_plan) is a separate step on a finished plan,
since it runs a language model.

After dropping overlap and trim frames, the clips' new frames tile the model frames
[0, model_frames) exactly once, and their output ranges tile [0, output_frames) exactly once.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from .config import WanConfig
from .models.registry import ModelSpec, default_flow_shift, model_spec
from .models.speed import speed_preset
from .movement import MovementAnalysis, analyze_config
from .prompts.style import AdvancedStyleConfig, apply_style
from .schedules import PromptKeyframe, PromptSchedule
from .seeds import clip_seeds, resolve_seed
from .timebase import Timebase

PLAN_VERSION = 1
# Wan's VAE packs 4 frames into each latent frame after the first: a prompt shown for fewer
# model frames than that cannot get a latent frame of its own, so its segment is merged away.
MIN_SEGMENT_FRAMES = 4

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
            values = {k: data[k] for k in names if k not in ("clips", "warnings")}
            return cls(clips=clips, warnings=tuple(data.get("warnings", ())), **values)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a generation plan: {exc}") from None


@dataclass
class _Segment:
    start: int  # model frames, end-exclusive range
    end: int
    keyframe: PromptKeyframe

    @property
    def length(self) -> int:
        return self.end - self.start


def _round_4n1_up(frames: int) -> int:
    return frames + (1 - frames) % 4


def _segments(
    schedule: PromptSchedule, timebase: Timebase, model_frames: int
) -> tuple[list[_Segment], list[str]]:
    starts: dict[int, PromptKeyframe] = {0: schedule.keyframes[0]}
    for keyframe in schedule.keyframes[1:]:
        cut = timebase.first_model_frame_at_or_after(keyframe.frame)
        if cut < model_frames:
            starts[cut] = keyframe  # a later keyframe in the same model frame wins
    cuts = sorted(starts)
    raw = [_Segment(c, e, starts[c]) for c, e in zip(cuts, [*cuts[1:], model_frames], strict=True)]

    merged: list[_Segment] = []
    warnings: list[str] = []
    carried_start: int | None = None
    for i, segment in enumerate(raw):
        if carried_start is not None:
            segment.start, carried_start = carried_start, None
        if segment.length >= MIN_SEGMENT_FRAMES or (not merged and i + 1 == len(raw)):
            merged.append(segment)
            continue
        key = segment.keyframe.key
        if merged:
            merged[-1].end = segment.end
            warnings.append(
                f"the prompt at '{key}' (frame {segment.keyframe.frame}) would last {segment.length} "
                f"model frame(s), fewer than {MIN_SEGMENT_FRAMES}; the previous prompt continues instead"
            )
        elif i + 1 < len(raw):
            carried_start = segment.start
            warnings.append(
                f"the prompt at '{key}' (frame {segment.keyframe.frame}) would last {segment.length} "
                f"model frame(s), fewer than {MIN_SEGMENT_FRAMES}; the next prompt starts at frame 0"
            )
    return merged, warnings


def _left_over(length: int, sizes: list[int]) -> int:
    """New frames left for the last clip of a segment."""
    return length - sum(sizes)


def _split_segment(length: int, first_overlap: int, overlap: int, clip_frames: int) -> list[int]:
    """New frames per clip for one segment: all clips but the last generate exactly 4n+1."""
    cap_first = clip_frames - first_overlap
    if length <= cap_first:
        return [length]
    cap = clip_frames - overlap
    count = 1 + math.ceil((length - cap_first) / cap)
    target = length / count
    overlaps = [first_overlap] + [overlap] * (count - 2)
    sizes = []
    for o in overlaps:
        generated = 4 * round((target + o - 1) / 4) + 1
        sizes.append(min(max(generated, _round_4n1_up(o + 1)), clip_frames) - o)
    # Too much left for the last clip: grow the shortest of the others that can still grow.
    while _left_over(length, sizes) > cap:
        growable = [i for i in range(len(sizes)) if sizes[i] + overlaps[i] + 4 <= clip_frames]
        j = min(growable, key=lambda i: (sizes[i], i))
        sizes[j] += 4
    # Too little left: shrink the longest of the others while that keeps everything valid.
    while _left_over(length, sizes) < MIN_SEGMENT_FRAMES and _left_over(length, sizes) + 4 <= cap:
        shrinkable = [i for i in range(len(sizes)) if sizes[i] - 4 >= 1]
        if not shrinkable:
            break
        j = max(shrinkable, key=lambda i: (sizes[i], -i))
        sizes[j] -= 4
    return [*sizes, _left_over(length, sizes)]


def _continuation(config: WanConfig, spec: ModelSpec, i2v: ModelSpec | None) -> tuple[int, str, list[str]]:
    """(overlap for clips after the first, model id of those clips, warnings)."""
    warnings = []
    if spec.kind == "vace":
        if i2v is not None:
            warnings.append(f"i2v_model is not used: {spec.id} continues clips itself")
        return config.clip_overlap, spec.id, warnings
    continuer = spec if spec.kind == "i2v" else i2v
    if continuer is None:
        return 0, spec.id, warnings
    if config.clip_overlap != 1:
        warnings.append(
            f"{continuer.id} continues each clip from the previous clip's last frame, so "
            f"clip_overlap {config.clip_overlap} is used as 1"
        )
    return 1, continuer.id, warnings


def with_movement(prompt: str, phrase: str, mode: str) -> str:
    """The prompt with the movement phrase appended or prepended (mode off: unchanged)."""
    if mode == "off" or not phrase:
        return prompt
    if not prompt:
        return phrase
    return f"{prompt}, {phrase}" if mode == "append" else f"{phrase}, {prompt}"


def _sampling_steps(config: WanConfig, spec: ModelSpec) -> int:
    """The settings' steps; else the model's default, or fewer where the speed preset says so."""
    if config.steps is not None:
        return config.steps
    fewer = speed_preset(config.speed.preset).steps
    return min(fewer, spec.default_steps) if fewer else spec.default_steps


def create_plan(config: WanConfig, *, seed: int | None = None) -> GenerationPlan:
    """Cut the animation of `config` into clips; `seed` overrides a random (-1) config seed."""
    spec = model_spec(config.model)
    speed = speed_preset(config.speed.preset)  # a lossy preset may run without guidance
    i2v = model_spec(config.i2v_model) if config.i2v_model else None
    base_seed = resolve_seed(config.seed, seed)
    timebase = Timebase.of(config.fps, spec.native_fps)
    model_frames = timebase.model_frames_for(config.max_frames)

    # 1. prompts and their segments on the model's frame axis
    schedule = PromptSchedule(
        config.prompts, config.max_frames, positive=config.positive_prompt, negative=config.negative_prompt
    )
    segments, segment_warnings = _segments(schedule, timebase, model_frames)
    warnings = [*schedule.warnings, *segment_warnings]

    # 2. how clips continue one another
    overlap, continuer_id, continuation_warnings = _continuation(config, spec, i2v)
    warnings += continuation_warnings
    starts_from_image = bool(config.init_image) and (spec.kind != "t2v" or i2v is not None)
    if config.init_image and not starts_from_image:
        warnings.append(f"{spec.id} cannot start from an image; init_image is not used")

    # 3. clips
    layout: list[tuple[int, int, int, int, _Segment]] = []  # start, new, overlap, trim, segment
    position = 0
    for segment in segments:
        first_overlap = min(overlap, position)  # cannot condition on more than exists
        sizes = _split_segment(segment.length, first_overlap, overlap, config.clip_frames)
        for j, new in enumerate(sizes):
            o = first_overlap if j == 0 else overlap
            trim = _round_4n1_up(new + o) - (new + o)
            layout.append((position, new, o, trim, segment))
            position += new
    if overlap == 0 and spec.kind == "t2v" and len(layout) > 1:
        warnings.append(
            f"{spec.id} cannot continue a clip, so each of the {len(layout)} clips starts afresh; "
            "use a VACE model or set i2v_model for continuity"
        )

    # 4. seeds, output ranges, prompts
    # A last clip may hold only model frames after the last output frame's time (needed to
    # interpolate it): its output range is then empty.
    starts = [min(timebase.first_output_frame_at_or_after(start), config.max_frames) for start, *_ in layout]
    ends = [*starts[1:], config.max_frames]
    scheduled = ()
    if config.seed_behavior == "schedule":
        values = config.schedule_values("seed_schedule", base_seed)
        scheduled = [values[min(s, config.max_frames - 1)] for s in starts]
    seeds = clip_seeds(
        config.seed_behavior, base_seed, len(layout), iter_n=config.seed_iter_n, scheduled=scheduled
    )
    last = config.max_frames - 1
    windows = [
        (min(first, last), max(end, min(first, last) + 1)) for first, end in zip(starts, ends, strict=True)
    ]
    movements = analyze_config(config, windows, seed=base_seed)
    style = AdvancedStyleConfig.from_options(config.style)
    styles = style.clip_styles(windows, config.max_frames) if style.active else [""] * len(windows)
    clips = []
    for index, ((start, new, o, trim, segment), first, end, clip_seed, movement, clip_style) in enumerate(
        zip(layout, starts, ends, seeds, movements, styles, strict=True)
    ):
        base_prompt, negative = schedule.render(segment.keyframe, min(first, last))
        styled, _added = apply_style(base_prompt, clip_style, strength=style.strength, mode=style.blend_mode)
        phrase = movement.description if config.movement.mode != "off" else ""
        prompt = with_movement(styled, phrase, config.movement.mode)
        if index == 0:
            conditioning: Conditioning = "init_image" if starts_from_image else "text"
            model = spec.id if (spec.kind != "t2v" or not starts_from_image) else continuer_id
        else:
            conditioning = "previous_clip" if o > 0 else "text"
            model = continuer_id if o > 0 else spec.id
        if not base_prompt:
            warnings.append(f"clip {index} has an empty prompt")
        clips.append(
            ClipPlan(
                index=index,
                start_frame=first,
                end_frame=end,
                model_start_frame=start,
                model_end_frame=start + new,
                num_frames=o + new + trim,
                overlap_frames=o,
                trim_frames=trim,
                prompt=prompt,
                negative_prompt=negative,
                prompt_frame=segment.keyframe.frame,
                seed=clip_seed,
                conditioning=conditioning,
                model=model,
                base_prompt=base_prompt,
                movement=movement,
                style=clip_style,
                movement_phrase=phrase,
            )
        )

    size = (config.width, config.height)
    if spec.hub_id and size not in spec.sizes and size[::-1] not in spec.sizes:  # portrait is fine
        trained = " or ".join(f"{w}x{h}" for w, h in spec.sizes)
        warnings.append(
            f"{config.width}x{config.height} is not a size {spec.id} was trained for ({trained}); "
            "expect weaker results"
        )
    return GenerationPlan(
        clips=tuple(clips),
        model=spec.id,
        i2v_model=i2v.id if i2v else "",
        width=config.width,
        height=config.height,
        output_frames=config.max_frames,
        output_fps=config.fps,
        model_fps=spec.native_fps,
        model_frames=model_frames,
        steps=_sampling_steps(config, spec),
        guidance_scale=config.guidance_scale
        if config.guidance_scale is not None
        else speed.guidance_scale or spec.default_guidance,
        flow_shift=config.flow_shift
        if config.flow_shift is not None
        else default_flow_shift(config.width, config.height),
        seed=base_seed,
        seed_behavior=config.seed_behavior,
        clip_frames=config.clip_frames,
        clip_overlap=overlap,
        init_image=config.init_image if starts_from_image else "",
        warnings=tuple(warnings),
    )
