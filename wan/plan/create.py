"""How a GenerationPlan is made from settings (create_plan). Pure and fast; no torch.

1. The animation's duration is laid on the model's frame axis at the model's own frame rate
   (16 fps for Wan 2.1 and 2.2 A14B, 24 for TI2V-5B): output frame j sits at model position
   j * model fps / fps, and enough model frames are planned to cover the last output frame
   (Timebase).
2. Every prompt keyframe becomes a cut at the first model frame not earlier than it, so a
   prompt never starts before its keyframe. A prompt that would get fewer than
   MIN_SEGMENT_FRAMES model frames is merged away (reported in `warnings`).
3. Each prompt segment is split into as few clips as fit `clip_frames` (by default the model's
   longest clip: 81 frames, 121 for TI2V-5B), balanced in length.
   Clip k > 0 first regenerates the last `overlap` frames of what came before (its
   conditioning, dropped when joined); every clip generates 4n+1 frames, and only the last clip
   of a segment may generate up to 3 extra frames at its end that are dropped ("trim") so the
   cut lands exactly on the prompt keyframe (wan.plan.layout).
4. Seeds follow the Deforum seed behaviour, one step per clip; `clip_seeds` replaces the seed
   of single clips (a re-rolled clip).
5. Each clip's style is taken from the style settings (base text or schedule, blend mode,
   strength) and blended into its prompt (wan.prompts.style).
6. Each clip's camera motion is described in words (wan.movement) and added to its prompt
   (movement_mode append / prepend / off); the plan keeps the structured analysis.
7. Each clip takes its LoRAs' weights (wan.plan.loras); the frames are rendered at the size the
   model takes nearest to the output size (wan.catalog.sizes), which the plan records with why.
8. A preview (preview_enabled) keeps all of that and makes the frames smaller and with fewer
   steps (wan.plan.preview).
Prompt enhancement (wan.plan.enhance) is a separate step on a finished plan, since it runs a
language model.

After dropping overlap and trim frames, the clips' new frames tile the model frames
[0, model_frames) exactly once, and their output ranges tile [0, output_frames) exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog import ModelSpec, RenderSize, render_size
from ..config import SPEED_PRESETS, WanConfig
from ..movement import CameraPath, MovementAnalysis, analyze_windows, channels_for
from ..prompts.style import apply_style, clip_styles
from ..seeds import clip_seeds, resolve_seed
from ..timebase import Timebase
from .layout import ClipSlot, clip_slots, continuation, prompt_segments
from .loras import clip_loras
from .plan import ClipLora, ClipPlan, Conditioning, GenerationPlan
from .preview import preview_plan


def camera_path(config: WanConfig, seed: int | None = None) -> CameraPath:
    """The camera's motion over the animation: its schedules (`s` = `seed`) and shake."""
    schedules = {
        c.schedule: config.schedule_values(c.schedule, seed) for c in channels_for(config.animation_mode)
    }
    shake = (config.shake.name, config.shake.intensity, config.shake.speed)
    return CameraPath.of_schedules(
        config.animation_mode,
        config.fps,
        config.max_frames,
        config.width,
        config.height,
        schedules,
        shake=shake,
    )


def prompt_windows(config: WanConfig) -> list[tuple[int, int]]:
    """One window of output frames per prompt: [keyframe, next keyframe), the first from 0."""
    starts = [0] + [k.frame for k in config.prompt_schedule().keyframes[1:]]
    return list(zip(starts, [*starts[1:], config.max_frames], strict=True))


def movement_by_prompt(config: WanConfig, *, seed: int | None = None) -> list[MovementAnalysis]:
    """The camera movement of each prompt's frames, in words and as data."""
    return _movements(config, prompt_windows(config), seed)


def _movements(config: WanConfig, windows: list[tuple[int, int]], seed: int | None) -> list[MovementAnalysis]:
    options = config.movement
    return analyze_windows(
        camera_path(config, seed), windows, sensitivity=options.sensitivity, max_phrases=options.max_phrases
    )


def with_movement(prompt: str, phrase: str, mode: str) -> str:
    """The prompt with the movement phrase appended or prepended (mode off: unchanged)."""
    if mode == "off" or not phrase:
        return prompt
    if not prompt:
        return phrase
    return f"{prompt}, {phrase}" if mode == "append" else f"{phrase}, {prompt}"


@dataclass(frozen=True)
class _Continuation:
    """How clips continue one another: the overlap of clips after the first, the model that
    renders them, and whether the first clip starts from the init image."""

    overlap: int
    continuer: str
    from_image: bool


def _continuation(config: WanConfig, spec: ModelSpec, warnings: list[str]) -> _Continuation:
    overlap, continuer, notes = continuation(config, spec, config.i2v_spec)
    warnings += notes
    from_image = bool(config.init_image) and (spec.takes_image or config.i2v_spec is not None)
    if config.init_image and not from_image:
        warnings.append(f"{spec.id} cannot start from an image; init_image is not used")
    return _Continuation(overlap, continuer, from_image)


def _output_windows(
    slots: list[ClipSlot], timebase: Timebase, max_frames: int
) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    """(first output frame, end output frame, movement window) of each clip. A last clip may
    hold only model frames after the last output frame's time (needed to interpolate it): its
    output range is then empty, and its window is the last frame."""
    starts = [min(timebase.first_output_frame_at_or_after(slot.start), max_frames) for slot in slots]
    ends = [*starts[1:], max_frames]
    last = max_frames - 1
    windows = [(min(s, last), max(e, min(s, last) + 1)) for s, e in zip(starts, ends, strict=True)]
    return starts, ends, windows


def _seeds(config: WanConfig, base_seed: int, starts: list[int]) -> list[int]:
    scheduled: list[float] = []
    if config.seed_behavior == "schedule":
        values = config.schedule_values("seed_schedule", base_seed)
        scheduled = [float(values[min(s, config.max_frames - 1)]) for s in starts]
    seeds = clip_seeds(
        config.seed_behavior, base_seed, len(starts), iter_n=config.seed_iter_n, scheduled=scheduled
    )
    chosen = dict(config.clip_seeds)
    return [chosen.get(index, seed) for index, seed in enumerate(seeds)]


def _size_warnings(size: tuple[int, int], spec: ModelSpec) -> list[str]:
    if not spec.hub_id or size in spec.sizes or size[::-1] in spec.sizes:  # portrait is fine
        return []
    trained = " or ".join(f"{w}x{h}" for w, h in spec.sizes)
    return [f"{size[0]}x{size[1]} is not a size {spec.id} was trained for ({trained}); expect weaker results"]


def create_plan(config: WanConfig, *, seed: int | None = None) -> GenerationPlan:
    """Cut the animation of `config` into clips; `seed` overrides a random (-1) config seed."""
    spec = config.model_spec
    base_seed = resolve_seed(config.seed, seed)
    timebase = Timebase.of(config.fps, spec.native_fps)
    model_frames = timebase.model_frames_for(config.max_frames)

    # 1. prompts and their segments on the model's frame axis
    schedule = config.prompt_schedule()
    segments, segment_warnings = prompt_segments(schedule, timebase, model_frames)
    warnings = [*schedule.warnings, *segment_warnings]
    # 2. how clips continue one another
    joined = _continuation(config, spec, warnings)
    # 3. clips
    slots = clip_slots(segments, joined.overlap, config.frames_per_clip())
    if joined.overlap == 0 and spec.kind == "t2v" and len(slots) > 1:
        warnings.append(
            f"{spec.id} cannot continue a clip, so each of the {len(slots)} clips starts afresh; "
            "use a VACE model or set i2v_model for continuity"
        )
    # 4-6. output ranges, seeds, styles, movement and prompts
    starts, ends, windows = _output_windows(slots, timebase, config.max_frames)
    seeds = _seeds(config, base_seed, starts)
    styles = clip_styles(config.style, windows, config.max_frames)
    movements = _movements(config, windows, base_seed)
    loras = clip_loras(config, list(zip(starts, ends, strict=True)))
    clips = [
        _clip(config, spec, joined, index, slot, (first, end), seed, movement, style, used)
        for index, (slot, first, end, seed, movement, style, used) in enumerate(
            zip(slots, starts, ends, seeds, movements, styles, loras, strict=True)
        )
    ]
    warnings += [f"clip {clip.index} has an empty prompt" for clip in clips if not clip.base_prompt]
    # 7. the size the model renders at
    size = render_size(config.width, config.height, spec)
    warnings += _size_warnings((size.width, size.height), spec)
    warnings += [
        f"clip_seeds names clip {index}, but the plan has {len(clips)} clip(s); ignored"
        for index, _seed in config.clip_seeds
        if index >= len(clips)
    ]
    plan = GenerationPlan(
        clips=tuple(clips),
        model=spec.id,
        i2v_model=config.i2v_spec.id if config.i2v_spec else "",
        width=config.width,
        height=config.height,
        output_frames=config.max_frames,
        output_fps=config.fps,
        model_fps=spec.native_fps,
        model_frames=model_frames,
        steps=config.sampling_steps(),
        guidance_scale=config.guidance(),
        guidance_scale_2=config.guidance_2(),
        flow_shift=_flow_shift(config, spec, size),
        seed=base_seed,
        seed_behavior=config.seed_behavior,
        clip_frames=config.frames_per_clip(),
        clip_overlap=joined.overlap,
        init_image=config.init_image if joined.from_image else "",
        warnings=tuple(warnings),
        render_width=size.width,
        render_height=size.height,
        size_note=size.reason,
        timesteps=SPEED_PRESETS[config.speed.preset].timesteps,
    )
    return preview_plan(plan, config)


def _flow_shift(config: WanConfig, spec: ModelSpec, size: RenderSize) -> float:
    """The settings' flow shift, else the speed preset's (a step-distilled LoRA's published one),
    else the model's reference value at the rendered resolution."""
    if config.flow_shift is not None:
        return config.flow_shift
    preset = SPEED_PRESETS[config.speed.preset].flow_shift
    return preset if preset is not None else spec.flow_shift_for(size.width, size.height)


def _clip(
    config: WanConfig,
    spec: ModelSpec,
    joined: _Continuation,
    index: int,
    slot: ClipSlot,
    output_range: tuple[int, int],
    seed: int,
    movement: MovementAnalysis,
    style: str,
    loras: tuple[ClipLora, ...],
) -> ClipPlan:
    """One clip: its prompt (style and movement phrase added), conditioning and model."""
    first, end = output_range
    base_prompt, negative = config.prompt_schedule().render(
        slot.segment.keyframe, min(first, config.max_frames - 1)
    )
    styled, _added = apply_style(
        base_prompt, style, strength=config.style.strength, mode=config.style.blend_mode
    )
    phrase = movement.description if config.movement.mode != "off" else ""
    if index == 0:
        conditioning: Conditioning = "init_image" if joined.from_image else "text"
        model = spec.id if (spec.kind != "t2v" or not joined.from_image) else joined.continuer
    else:
        conditioning = "previous_clip" if slot.overlap > 0 else "text"
        model = joined.continuer if slot.overlap > 0 else spec.id
    return ClipPlan(
        index=index,
        start_frame=first,
        end_frame=end,
        model_start_frame=slot.start,
        model_end_frame=slot.start + slot.new,
        num_frames=slot.overlap + slot.new + slot.trim,
        overlap_frames=slot.overlap,
        trim_frames=slot.trim,
        prompt=with_movement(styled, phrase, config.movement.mode),
        negative_prompt=negative,
        prompt_frame=slot.segment.keyframe.frame,
        seed=seed,
        conditioning=conditioning,
        model=model,
        base_prompt=base_prompt,
        movement=movement,
        style=style,
        movement_phrase=phrase,
        loras=loras,
    )
