"""WanConfig: everything a run needs, as one frozen dataclass validated on construction.

Settings files are one flat JSON object: Deforum's own keys for what Deforum already has
(`prompts`, `max_frames`, `W`, `H`, `fps`, `seed`, `translation_x`, ...), plain names for ours
(`model`, `clip_frames`, `clip_overlap`, `steps`, `guidance_scale`, ...), and the option groups
as prefixed keys (`movement_sensitivity`, `enhance_language`, `interpolation_method`, ...). Each
group lives in its own module of this package; GROUPS lists them.

Rules between settings are the `_rule_*` methods (wan.config.group); every camera and seed
schedule is evaluated once while validating and kept (`schedule_values`), so planning does not
evaluate it again.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..catalog import DEFAULT_MODEL, MODELS, ModelSpec, known_model, local_model
from ..schedules import PromptSchedule, ScheduleError, evaluate_schedule, normalize_prompts
from ..schedules.keyframes import parse_keyframes
from ..timebase import Timebase
from .enhancement import SEED_MAX, EnhancementOptions
from .fields import (
    Choice,
    Converted,
    FieldError,
    FourNPlusOne,
    Integer,
    Number,
    SettingsError,
    Text,
    setting,
)
from .files import ImageFile, LocalFolder, caller_path
from .gate import GateOptions
from .group import SettingsGroup, group_field, group_from_mapping
from .interpolation import InterpolationOptions
from .lora import LoraOptions
from .memory import MemoryOptions
from .movement import MovementOptions
from .output import OutputOptions
from .preview import PreviewOptions
from .quality import QualityOptions
from .shake import ShakeOptions
from .speed import SPEED_PRESETS, SpeedOptions
from .style import StyleOptions
from .upscale import UpscaleOptions
from .weights import WeightsOptions

MAX_FRAMES_LIMIT = 100_000
# the longest clip any model generates (Wan 2.2 TI2V-5B: 121 frames; the others 81)
MAX_CLIP_FRAMES = max(spec.max_frames for spec in MODELS.values())
# A clip must add at least one latent frame's worth of new frames (Wan's VAE packs 4 frames
# into each latent after the first), so the overlap leaves 4 or more.
MIN_NEW_FRAMES = 4

MOVEMENT_SCHEDULES = (
    "translation_x",
    "translation_y",
    "translation_z",
    "rotation_3d_x",
    "rotation_3d_y",
    "rotation_3d_z",
    "angle",
    "zoom",
    "transform_center_x",
    "transform_center_y",
)
SCHEDULES = (*MOVEMENT_SCHEDULES, "seed_schedule")
SEED_BEHAVIORS = ("iter", "fixed", "random", "ladder", "alternate", "schedule")
ANIMATION_MODES = ("2D", "3D", "None")

# The negative prompt the Wan 2.1 authors recommend, in English.
DEFAULT_NEGATIVE_PROMPT = (
    "bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, "
    "images, static, overall gray, worst quality, low quality, JPEG compression residue, ugly, "
    "incomplete, extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, "
    "misshapen limbs, fused fingers, still picture, messy background, three legs, many people "
    "in the background, walking backwards"
)
DEFORUM_SEED_SCHEDULE = '0:(s), 1:(-1), "max_f-2":(-1), "max_f-1":(s)'
# the seed variable of schedule expressions, as a whole word
_SEED_NAME = re.compile(r"(?<![A-Za-z0-9_])s(?![A-Za-z0-9_])")

GROUPS: dict[str, type[SettingsGroup]] = {
    "shake": ShakeOptions,
    "movement": MovementOptions,
    "enhancement": EnhancementOptions,
    "style": StyleOptions,
    "interpolation": InterpolationOptions,
    "memory": MemoryOptions,
    "speed": SpeedOptions,
    "lora": LoraOptions,
    "output": OutputOptions,
    "preview": PreviewOptions,
    "weights": WeightsOptions,
    "quality": QualityOptions,
    "gate": GateOptions,
    "upscale": UpscaleOptions,
}


def _schedule_text(value: Any) -> str:
    text = Text(20_000)(value)
    try:
        parse_keyframes(text, MAX_FRAMES_LIMIT, name="schedule")  # syntax only; values come later
    except ScheduleError as exc:
        raise ValueError(exc.detail) from None
    return text


def _prompt_entries(value: Any) -> tuple[tuple[str, str], ...]:
    entries = normalize_prompts(value)
    if any("\x00" in str(key) or "\x00" in text for key, text in entries):
        raise ValueError("prompts: frames and prompts must be text without NUL characters")
    return entries


# Any size: the model renders at the nearest size it takes (wan.catalog.sizes) and the output is
# resized to exactly this one.
FRAME_SIZE = Integer(64, 2048)
SCHEDULE = Converted(_schedule_text, "a Deforum keyframe schedule such as 0:(0), 30:(5*sin(t/10))")


def _model_ref(value: Any) -> str:
    """A registry id for a known model, else a local diffusers folder (as the caller may name it)."""
    text = Text(4096)(value).strip()
    spec = known_model(text) if text else None
    if spec is not None:
        return spec.id
    kept, path = caller_path(text, "models")
    if path is not None and path.is_dir():
        local_model(path)  # ValueError says why it is not a Wan pipeline folder
        return kept
    raise ValueError(
        f"unknown model '{text}'; use a model id (python -m wan models) or a local diffusers folder"
    )


def _optional_model_ref(value: Any) -> str:
    text = Text(4096)(value).strip()
    return _model_ref(text) if text else ""


def _clip_seeds(value: Any) -> tuple[tuple[int, int], ...]:
    """{clip index: seed} (a JSON object, its text, or pairs) as sorted (index, seed) pairs."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except (json.JSONDecodeError, RecursionError):
            raise ValueError('must be a JSON object of clip index -> seed, e.g. {"3": 1234}') from None
    items = value.items() if isinstance(value, Mapping) else value
    if not isinstance(items, (list, tuple)) and not isinstance(value, Mapping):
        raise ValueError('must be an object of clip index -> seed, e.g. {"3": 1234}')
    pairs = {}
    for item in items:
        if not (isinstance(item, (list, tuple)) and len(item) == 2):
            raise ValueError("each entry must be a clip index and a seed")
        try:
            index = Integer(0, MAX_FRAMES_LIMIT)(item[0])
        except ValueError:
            raise ValueError(f"clip index {str(item[0])[:20]!r} must be a whole number from 0") from None
        try:
            pairs[index] = Integer(0, SEED_MAX)(item[1])
        except ValueError:
            raise ValueError(
                f"the seed of clip {index} must be a whole number from 0 to {SEED_MAX}"
            ) from None
    if len(pairs) > MAX_FRAMES_LIMIT:
        raise ValueError(f"at most {MAX_FRAMES_LIMIT} entries")
    return tuple(sorted(pairs.items()))


def _model_ids(kinds: tuple[str, ...] = ("vace", "t2v", "i2v", "ti2v")) -> str:
    return ", ".join(spec.id for spec in MODELS.values() if not spec.tiny and spec.kind in kinds)


def _two_expert_ids() -> str:
    return ", ".join(spec.id for spec in MODELS.values() if not spec.tiny and spec.experts > 1)


def model_of(ref: str) -> ModelSpec:
    """The catalog entry of a validated model setting (a registry id or a local folder)."""
    return known_model(ref) or local_model(ref)


@dataclass(frozen=True)
class WanConfig(SettingsGroup):
    """A whole run: prompts, animation, camera schedules, model and the option groups."""

    prompts: tuple[tuple[str, str], ...] = setting(
        (("0", "a misty forest at dawn, sunbeams through tall pine trees, cinematic"),),
        Converted(_prompt_entries, 'an object of frame -> prompt, e.g. {"0": "a forest"}'),
        "Prompt schedule: frame (number or expression of max_f) -> prompt; '--neg' starts a negative part",
        label="Prompts",
    )
    positive_prompt: str = setting(
        "",
        Text(5000),
        "Added in front of every prompt",
        key="positive_prompts",
        label="Positive prompt (all clips)",
        aliases=("positive_prompt",),
    )
    negative_prompt: str = setting(
        DEFAULT_NEGATIVE_PROMPT,
        Text(5000),
        "Added to every negative prompt",
        key="negative_prompts",
        label="Negative prompt (all clips)",
        aliases=("negative_prompt",),
    )
    max_frames: int = setting(81, Integer(1, MAX_FRAMES_LIMIT), "Length of the animation in output frames")
    fps: float = setting(
        16.0, Number(0.0, 240.0, exclusive_minimum=True), "Output frame rate", label="Frames per second"
    )
    width: int = setting(
        832, FRAME_SIZE, "Frame width in pixels (any size)", key="W", label="Width", aliases=("width",)
    )
    height: int = setting(
        480, FRAME_SIZE, "Frame height in pixels (any size)", key="H", label="Height", aliases=("height",)
    )
    seed: int = setting(-1, Integer(-1, SEED_MAX), "Seed; -1 picks a random one when planning")
    seed_behavior: str = setting(
        "iter", Choice(SEED_BEHAVIORS), "How the seed changes from clip to clip (Deforum's behaviours)"
    )
    seed_iter_n: int = setting(
        1,
        Integer(1, 10_000),
        "With 'iter': the seed goes up by one every N clips",
        key="seed_iter_N",
        label="Seed iteration every N clips",
    )
    seed_schedule: str = setting(
        DEFORUM_SEED_SCHEDULE, SCHEDULE, "With 'schedule': the seed per frame (s = seed, -1 = random)"
    )
    clip_seeds: tuple[tuple[int, int], ...] = setting(
        (),
        Converted(_clip_seeds, 'an object of clip index -> seed, e.g. {"3": 1234}'),
        "Seeds of single clips over the seed behaviour's (a re-rolled clip keeps its new seed here)",
        label="Clip seeds",
    )
    animation_mode: str = setting(
        "3D",
        Choice(ANIMATION_MODES, {"none": "None"}),
        "2D or 3D camera schedules, or None for a static camera",
    )
    translation_x: str = setting("0: (0)", SCHEDULE, "Move the camera left/right, pixels per frame")
    translation_y: str = setting("0: (0)", SCHEDULE, "Move the camera up/down, pixels per frame")
    translation_z: str = setting("0: (0)", SCHEDULE, "3D: move the camera towards/away from the view")
    rotation_3d_x: str = setting(
        "0: (0)", SCHEDULE, "3D: tilt the camera up/down, degrees per frame", label="Rotation 3D X"
    )
    rotation_3d_y: str = setting(
        "0: (0)", SCHEDULE, "3D: pan the camera left/right, degrees per frame", label="Rotation 3D Y"
    )
    rotation_3d_z: str = setting(
        "0: (0)",
        SCHEDULE,
        "3D: roll the camera clockwise/anticlockwise, degrees per frame",
        label="Rotation 3D Z",
    )
    angle: str = setting(
        "0: (0)", SCHEDULE, "2D: rotate the canvas clockwise/anticlockwise, degrees per frame"
    )
    zoom: str = setting(
        "0: (1.0)", SCHEDULE, "2D: scale the canvas per frame, multiplicatively (1.0 = static)"
    )
    transform_center_x: str = setting("0: (0.5)", SCHEDULE, "2D: x centre of angle and zoom, 0-1 across")
    transform_center_y: str = setting("0: (0.5)", SCHEDULE, "2D: y centre of angle and zoom, 0-1 down")
    init_image: str = setting("", ImageFile, "Image the first clip starts from (image-to-video)")
    model: str = setting(
        DEFAULT_MODEL,
        Converted(_model_ref, "a model id (python -m wan models) or a local diffusers folder"),
        f"Video model: {_model_ids()} or a folder",
        label="Video model",
    )
    i2v_model: str = setting(
        "",
        Converted(_optional_model_ref, "empty, or an image-to-video model"),
        "With a T2V model: the I2V model that continues each clip from the previous one's last frame",
        label="I2V model for continuing clips",
    )
    clip_frames: int | None = setting(
        None,
        FourNPlusOne(5, MAX_CLIP_FRAMES, optional=True),
        "Frames per generated clip (4n+1; null: the model's maximum, 81, or 121 for TI2V-5B)",
        label="Frames per clip",
    )
    clip_overlap: int = setting(
        5,
        Integer(0, MAX_CLIP_FRAMES - MIN_NEW_FRAMES),
        "Frames of the previous clip that condition the next (dropped when joined)",
        label="Clip overlap",
    )
    steps: int | None = setting(None, Integer(1, 200, optional=True), "Denoising steps (null: model default)")
    guidance_scale: float | None = setting(
        None,
        Number(0.0, 30.0, optional=True),
        "Classifier-free guidance (null: model default; of the high-noise expert of a two-expert model)",
    )
    guidance_scale_2: float | None = setting(
        None,
        Number(0.0, 30.0, optional=True),
        "Guidance of the low-noise expert of a two-expert model (Wan 2.2 A14B; null: model default)",
        label="Guidance scale, low-noise expert",
    )
    flow_shift: float | None = setting(
        None,
        Number(0.0, 30.0, optional=True, exclusive_minimum=True),
        "Flow-matching shift (null: the model's: Wan 2.1 3.0 at 480p, 5.0 at 720p; T2V-A14B 12; "
        "I2V-A14B and TI2V-5B 5)",
    )
    from_run: str = setting(
        "",
        LocalFolder("outputs", "a run folder"),
        "Re-render into this run folder as a new take, reusing every clip whose frames would not change",
        label="Re-render from run folder",
    )
    shake: ShakeOptions = group_field(ShakeOptions)
    movement: MovementOptions = group_field(MovementOptions)
    enhancement: EnhancementOptions = group_field(EnhancementOptions)
    style: StyleOptions = group_field(StyleOptions)
    interpolation: InterpolationOptions = group_field(InterpolationOptions)
    memory: MemoryOptions = group_field(MemoryOptions)
    speed: SpeedOptions = group_field(SpeedOptions)
    lora: LoraOptions = group_field(LoraOptions)
    output: OutputOptions = group_field(OutputOptions)
    preview: PreviewOptions = group_field(PreviewOptions)
    weights: WeightsOptions = group_field(WeightsOptions)
    quality: QualityOptions = group_field(QualityOptions)
    gate: GateOptions = group_field(GateOptions)
    upscale: UpscaleOptions = group_field(UpscaleOptions)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_evaluated", {})
        super().__post_init__()

    def _nested_errors(self) -> list[FieldError]:
        errors: list[FieldError] = []
        for f in dataclasses.fields(self):
            cls = f.metadata.get("group")
            if cls is None:
                continue
            value = getattr(self, f.name)
            if isinstance(value, Mapping):
                try:
                    object.__setattr__(self, f.name, group_from_mapping(cls, value))
                except SettingsError as exc:
                    errors.extend(exc.errors)
            elif not isinstance(value, cls):
                errors.append(FieldError(f.name, value, f"must be a {cls.__name__} or an object"))
        return errors

    # -- what the settings mean together ---------------------------------------------------------
    @property
    def model_spec(self) -> ModelSpec:
        """The catalog entry of the video model."""
        return model_of(self.model)

    @property
    def i2v_spec(self) -> ModelSpec | None:
        """The catalog entry of the I2V model that continues clips, if one is set."""
        return model_of(self.i2v_model) if self.i2v_model else None

    def _specs(self) -> list[ModelSpec]:
        """The models a render uses: the video model and the I2V model that continues clips."""
        return [self.model_spec, *([self.i2v_spec] if self.i2v_spec else [])]

    def frames_per_clip(self) -> int:
        """The settings' clip_frames; else the longest clip every model of the run generates."""
        if self.clip_frames is not None:
            return self.clip_frames
        return min(spec.max_frames for spec in self._specs())

    def _rule_clip_fits_the_model(self) -> list[FieldError]:
        if self.clip_frames is None:
            return []
        for spec in self._specs():
            if self.clip_frames > spec.max_frames:
                message = f"{spec.id} generates at most {spec.max_frames} frames"
                return [FieldError("clip_frames", self.clip_frames, message)]
        return []

    def _rule_i2v_model_keeps_the_frame_rate(self) -> list[FieldError]:
        i2v, spec = self.i2v_spec, self.model_spec
        if i2v is not None and i2v.native_fps != spec.native_fps:
            message = (
                f"generates at {i2v.native_fps} fps and {spec.id} at {spec.native_fps}: they cannot chain"
            )
            return [FieldError("i2v_model", self.i2v_model, message)]
        return []

    def _rule_second_guidance_needs_two_experts(self) -> list[FieldError]:
        if self.guidance_scale_2 is not None and all(spec.experts < 2 for spec in self._specs()):
            message = f"is for two-expert models ({_two_expert_ids()}); {self.model_spec.id} has one"
            return [FieldError("guidance_scale_2", self.guidance_scale_2, message)]
        return []

    def _rule_gguf_files_match_the_experts(self) -> list[FieldError]:
        weights, experts = self.weights, self.model_spec.experts
        if weights.format != "gguf":
            return []
        if self.i2v_spec is not None:
            message = (
                "GGUF files hold one model's transformer; with i2v_model the I2V model would need its own"
            )
            return [FieldError("weights", weights.format, message)]
        if experts == 2 and not weights.file_2:
            message = f"{self.model_spec.id} has two experts: give the low-noise expert's .gguf file too"
            return [FieldError("weights_file_2", weights.file_2, message)]
        if experts == 1 and weights.file_2:
            message = f"{self.model_spec.id} has one transformer: give weights_file only"
            return [FieldError("weights_file_2", weights.file_2, message)]
        return []

    def _rule_fp8_compute_needs_unquantized_weights(self) -> list[FieldError]:
        if self.speed.fp8 == "torchao" and self.weights.format not in ("auto", "bf16"):
            message = (
                "fp8 compute quantizes bf16 weights itself; it cannot run on weights "
                f"{self.weights.format} (use weights bf16, or speed_fp8 off)"
            )
            return [FieldError("speed_fp8", self.speed.fp8, message)]
        return []

    def _rule_mag_cache_needs_one_expert(self) -> list[FieldError]:
        if self.speed.cache_in_effect == "mag" and any(spec.experts > 1 for spec in self._specs()):
            message = "MagCache calibrates one transformer over all steps; two-expert models split the steps"
            return [FieldError("speed_cache", self.speed.cache, message)]
        return []

    def _rule_gate_clip_score_needs_adherence(self) -> list[FieldError]:
        if self.gate.min_clip_score is not None and not self.quality.adherence:
            message = "the CLIP score is measured only with quality_adherence on"
            return [FieldError("quality_gate_min_clip_score", self.gate.min_clip_score, message)]
        return []

    def _rule_animation_fits_the_frame_limit(self) -> list[FieldError]:
        spec = self.model_spec
        if Timebase.of(self.fps, spec.native_fps).model_frames_for(self.max_frames) > MAX_FRAMES_LIMIT:
            message = (
                f"with max_frames {self.max_frames} the animation would need more than {MAX_FRAMES_LIMIT} "
                f"frames of the model at {spec.native_fps} fps; raise fps or lower max_frames"
            )
            return [FieldError("fps", self.fps, message)]
        return []

    def _rule_overlap_leaves_new_frames(self) -> list[FieldError]:
        frames = self.frames_per_clip()
        if self.clip_overlap > frames - MIN_NEW_FRAMES:
            message = (
                f"must leave at least {MIN_NEW_FRAMES} new frames per clip: at most "
                f"{frames - MIN_NEW_FRAMES} with clip_frames {frames}"
            )
            return [FieldError("clip_overlap", self.clip_overlap, message)]
        return []

    def _rule_i2v_model_is_i2v(self) -> list[FieldError]:
        if self.i2v_spec is not None and self.i2v_spec.kind != "i2v":
            message = f"must be an image-to-video model ({_model_ids(('i2v',))})"
            return [FieldError("i2v_model", self.i2v_model, message)]
        return []

    def _rule_sea_cache_is_text_only(self) -> list[FieldError]:
        kinds = {self.model_spec.kind, self.i2v_spec.kind if self.i2v_spec else self.model_spec.kind}
        if self.speed.cache_in_effect == "sea" and kinds != {"t2v"}:
            message = "sea works with text-to-video models only (t2v-1.3b, t2v-14b, without i2v_model)"
            return [FieldError("speed_cache", self.speed.cache, message)]
        return []

    def _rule_batched_guidance_without_a_step_cache(self) -> list[FieldError]:
        cache = self.speed.cache_in_effect
        if self.memory.batch_guidance == "on" and cache != "none":
            message = f"cannot batch guidance with the {cache} step cache (speed_cache); use auto or off"
            return [FieldError("memory_batch_guidance", self.memory.batch_guidance, message)]
        return []

    def _rule_i2v_starts_from_an_image(self) -> list[FieldError]:
        if self.model_spec.kind == "i2v" and not self.init_image:
            message = f"{self.model_spec.id} starts from an image: give init_image"
            return [FieldError("init_image", self.init_image, message)]
        return []

    def _rule_preview_speed_applies(self) -> list[FieldError]:
        try:
            self.preview.speed_of(self.speed)
        except SettingsError as exc:
            message = f"cannot apply to these speed settings: {exc.errors[0]}"
            return [FieldError("preview_speed", self.preview.speed, message)]
        return []

    def _rule_lora_weights_evaluate(self) -> list[FieldError]:
        return self.lora.weight_errors(self.max_frames, self.seed)

    def _rule_steps_fit_a_fixed_step_list(self) -> list[FieldError]:
        fixed = SPEED_PRESETS[self.speed.preset].timesteps
        if self.steps is not None and fixed and self.steps != len(fixed):
            message = f"speed_preset {self.speed.preset} runs its {len(fixed)} fixed steps; leave steps null"
            return [FieldError("steps", self.steps, message)]
        return []

    def _rule_prompts_cover_the_animation(self) -> list[FieldError]:
        try:
            self.prompt_schedule()
        except ScheduleError as exc:
            return [FieldError("prompts", dict(self.prompts), exc.detail)]
        return []

    def _rule_schedules_evaluate(self) -> list[FieldError]:
        errors = []
        for name in SCHEDULES:
            try:
                values = self.schedule_values(name)
            except ScheduleError as exc:
                errors.append(FieldError(name, getattr(self, name), exc.detail))
                continue
            if name == "zoom" and self.animation_mode == "2D" and (values <= 0).any():
                frame = int(np.argmax(values <= 0))
                message = (
                    f"is a scale factor and must stay above 0 (1.0 is static); frame {frame} gives "
                    f"{values[frame]:g}"
                )
                errors.append(FieldError(name, self.zoom, message))
        return errors

    # -- evaluated once --------------------------------------------------------------------------
    def prompt_schedule(self) -> PromptSchedule:
        """The prompt schedule over max_frames, with the global prompts (parsed once)."""
        evaluated: dict[Any, Any] = self._evaluated  # type: ignore[attr-defined]
        if "prompts" not in evaluated:
            evaluated["prompts"] = PromptSchedule(
                self.prompts, self.max_frames, positive=self.positive_prompt, negative=self.negative_prompt
            )
        return evaluated["prompts"]

    def schedule_values(self, name: str, seed: int | None = None) -> np.ndarray:
        """One schedule (e.g. 'zoom') over max_frames, read-only; `s` in its expressions is `seed`
        or the config's seed. Evaluated once per seed, and once in all for schedules without `s`."""
        if name not in SCHEDULES:
            raise KeyError(f"unknown schedule '{name}'")
        text = getattr(self, name)
        seed = self.seed if seed is None else seed
        key = (name, seed if _SEED_NAME.search(text) else None)
        evaluated: dict[Any, Any] = self._evaluated  # type: ignore[attr-defined]
        if key not in evaluated:
            values = evaluate_schedule(text, self.max_frames, seed=seed, name=name)
            values.flags.writeable = False
            evaluated[key] = values
        return evaluated[key]

    def sampling_steps(self) -> int:
        """The settings' steps; else the model's default, or fewer where the speed preset says so."""
        if self.steps is not None:
            return self.steps
        fewer = SPEED_PRESETS[self.speed.preset].steps
        default = self.model_spec.default_steps
        return min(fewer, default) if fewer else default

    def guidance(self) -> float:
        """The settings' guidance scale; else the speed preset's (a distilled one runs without
        guidance), else the model's default."""
        if self.guidance_scale is not None:
            return self.guidance_scale
        return SPEED_PRESETS[self.speed.preset].guidance_scale or self.model_spec.default_guidance

    def guidance_2(self) -> float | None:
        """The low-noise expert's guidance, when a model of the run has two experts: the setting;
        else the speed preset's; else the two-expert model's default (None: as guidance)."""
        two = [spec for spec in self._specs() if spec.experts > 1]
        if not two:
            return None
        if self.guidance_scale_2 is not None:
            return self.guidance_scale_2
        return SPEED_PRESETS[self.speed.preset].guidance_scale or two[0].default_guidance_2

    # -- writing ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The settings as one flat JSON-ready object (lossless: from_dict gives it back)."""
        data = super().to_dict()
        data["prompts"] = dict(self.prompts)
        data["clip_seeds"] = {str(index): seed for index, seed in self.clip_seeds}
        for f in dataclasses.fields(self):
            if "group" in f.metadata:
                data.update(getattr(self, f.name).to_dict())
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The settings as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
