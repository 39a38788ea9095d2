"""Everything a run needs, as frozen dataclasses validated on construction.

Settings files are one flat JSON object: Deforum's own keys for what Deforum already has
(`prompts`, `max_frames`, `W`, `H`, `fps`, `seed`, `translation_x`, ...), plain names for ours
(`model`, `clip_frames`, `clip_overlap`, `steps`, `guidance_scale`, ...), and the option groups
as prefixed keys (`movement_sensitivity`, `enhance_language`, `interpolation_method`, ...).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..models.registry import DEFAULT_MODEL, model_spec
from ..models.speed import (
    ATTENTION_CHOICES,
    CACHE_CHOICES,
    COMPILE_CHOICES,
    DEFAULT_PRESET,
    FP8_CHOICES,
    PRESETS,
    combination_problems,
    effective_cache,
)
from ..movement.shake import shake_presets
from ..schedules import PromptSchedule, ScheduleError, evaluate_schedule, normalize_prompts
from ..schedules.keyframes import parse_keyframes
from ..timebase import Timebase
from .fields import (
    Choice,
    Converted,
    FieldError,
    Flag,
    FourNPlusOne,
    ImageFile,
    Integer,
    MultipleOf,
    Number,
    SettingsError,
    Spec,
    Text,
    check_fields,
    did_you_mean,
    local_file,
    setting,
    specs_of,
)

MAX_FRAMES_LIMIT = 100_000
SEED_MAX = 2**32 - 1
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


def _schedule_text(value: Any) -> str:
    text = Text(20_000)(value)
    try:
        parse_keyframes(text, MAX_FRAMES_LIMIT, name="schedule")  # syntax only; values come later
    except ScheduleError as exc:
        raise ValueError(exc.detail) from None
    return text


FRAME_SIZE = MultipleOf(64, 2048, step=16, reason=" (Wan's VAE and patch size need it)")
SCHEDULE = Converted(_schedule_text, "a Deforum keyframe schedule such as 0:(0), 30:(5*sin(t/10))")


# frame expressions (max_f/2) are checked against a long animation; the plan uses the real one
_STYLE_CHECK_FRAMES = 1_000_000


def _shake_name(value: Any) -> str:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return "None"
    if isinstance(value, str):
        wanted = value.strip().lower()
        for key, name in shake_presets().items():
            if wanted in (key.lower(), name.lower()):
                return key
    raise ValueError("must be None or a Camera Shakify preset: " + ", ".join(shake_presets()))


def _style_schedule(value: Any) -> str:
    from ..prompts.style import parse_style_schedule

    text = Text(20_000)(value)
    try:
        parse_style_schedule(text, _STYLE_CHECK_FRAMES)
    except ValueError as exc:
        raise ValueError(getattr(exc, "detail", str(exc))) from None
    return text


def _model_ref(value: Any) -> str:
    text = Text(4096)(value).strip()
    spec = model_spec(text)
    return spec.id


def _optional_model_ref(value: Any) -> str:
    text = Text(4096)(value).strip()
    return _model_ref(text) if text else ""


class _Settings:
    """Validation on construction for the settings dataclasses below."""

    PREFIX: ClassVar[str] = ""

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        normalised, errors = check_fields(type(self), values, self.PREFIX)
        for name, value in normalised.items():
            object.__setattr__(self, name, value)
        errors += self._nested_errors()
        if not errors:
            errors = self._check_together()
        if errors:
            raise SettingsError(errors)

    def _nested_errors(self) -> list[FieldError]:
        return []

    def _check_together(self) -> list[FieldError]:
        return []

    @classmethod
    def specs(cls) -> list[Spec]:
        """The Specs of this class's own (non-group) fields, with their flat keys."""
        return specs_of(cls, cls.PREFIX)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict with the settings-file keys."""
        return {spec.key: getattr(self, spec.name) for spec in self.specs()}


@dataclass(frozen=True)
class ShakeOptions(_Settings):
    """Camera Shakify shake added to the camera movement (Deforum's shake_* settings)."""

    PREFIX: ClassVar[str] = "shake_"

    name: str = setting(
        "None",
        Converted(_shake_name, "None or a Camera Shakify preset"),
        "Camera Shakify preset (INVESTIGATION, HANDYCAM_RUN, ...), or None for no shake",
    )
    intensity: float = setting(1.0, Number(0.0, 3.0), "How strong the shake is (0-3)")
    speed: float = setting(1.0, Number(0.0, 3.0), "How fast the shake plays (0-3)")


@dataclass(frozen=True)
class MovementOptions(_Settings):
    """How camera movement is described in each clip's prompt."""

    PREFIX: ClassVar[str] = "movement_"

    mode: str = setting(
        "append",
        Choice(("off", "append", "prepend")),
        "Where the camera-movement phrase goes in each clip's prompt",
    )
    sensitivity: float = setting(
        1.0, Number(0.1, 5.0), "Scales how strong a movement must be to be named (higher names smaller)"
    )
    max_phrases: int = setting(2, Integer(1, 8), "At most this many simultaneous movements are named")


@dataclass(frozen=True)
class EnhancementOptions(_Settings):
    """Prompt rewriting with a local Qwen model or an OpenAI-compatible server."""

    PREFIX: ClassVar[str] = "enhance_"

    enabled: bool = setting(False, Flag(), "Rewrite each clip's prompt into a rich cinematic description")
    backend: str = setting(
        "qwen", Choice(("qwen", "openai")), "qwen (local transformers) or openai (any compatible server)"
    )
    model: str = setting("auto", Text(4096), "Enhancer model: auto, a Qwen model id, or a local folder")
    language: str = setting(
        "en",
        Choice(("en", "zh"), {"english": "en", "chinese": "zh", "中文": "zh"}),
        "Language of the enhanced prompts: en (English) or zh (Chinese)",
    )
    strength: float = setting(
        0.5, Number(0.0, 1.0), "0 keeps the prompt, low adds detail to the user's words, 1 rewrites freely"
    )
    movement_context: bool = setting(True, Flag(), "Weave the clip's camera movement into the rewrite")
    max_words: int = setting(120, Integer(10, 500), "Upper limit on the words of an enhanced prompt")
    seed: int = setting(0, Integer(0, SEED_MAX), "Sampling seed of the enhancer")
    api_url: str = setting(
        "", Text(2048), "openai backend: the server's base URL, e.g. http://127.0.0.1:8080/v1"
    )
    timeout: float = setting(60.0, Number(1.0, 3600.0), "openai backend: seconds to wait for each answer")
    batch_size: int = setting(8, Integer(1, 256), "qwen backend: prompts rewritten together in one call")


@dataclass(frozen=True)
class StyleOptions(_Settings):
    """A visual style blended into every prompt, optionally changing over time."""

    PREFIX: ClassVar[str] = "style_"

    text: str = setting("", Text(2000), "Style words added to every prompt, e.g. 'watercolor, soft light'")
    strength: float = setting(1.0, Number(0.0, 1.0), "How much of the style is applied (0-1)")
    blend_mode: str = setting(
        "blend",
        Choice(("overwrite", "blend", "adaptive")),
        "overwrite, blend, or adaptive (skips style words the prompt already implies)",
    )
    schedule: str = setting(
        "",
        Converted(_style_schedule, "a style schedule such as 0:(watercolor), 48:(oil painting)"),
        "Style per keyframe, in Deforum keyframe syntax: 0:(watercolor), 48:(oil painting)",
    )
    temporal_consistency: bool = setting(
        True, Flag(), "A clip keeps the style of the clip before it until the schedule changes it"
    )


@dataclass(frozen=True)
class InterpolationOptions(_Settings):
    """Frame interpolation from the model's 16 fps to the output fps."""

    PREFIX: ClassVar[str] = "interpolation_"

    enabled: bool = setting(True, Flag(), "Interpolate to the output fps (off: frames are resampled)")
    method: str = setting(
        "optical_flow", Choice(("linear", "optical_flow", "neural")), "linear, optical_flow or neural"
    )
    strength: float = setting(
        1.0, Number(0.0, 1.0), "How much in-between frames are synthesised (1) rather than held (0)"
    )
    quality: str = setting(
        "balanced", Choice(("fast", "balanced", "high_quality")), "fast, balanced or high_quality"
    )


@dataclass(frozen=True)
class MemoryOptions(_Settings):
    """How the models are fitted into GPU memory."""

    PREFIX: ClassVar[str] = "memory_"

    preset: str = setting(
        "auto",
        Choice(("auto", "none", "conservative", "balanced", "aggressive")),
        "auto picks from the detected GPU; aggressive fits under 8 GB at a speed cost",
    )


def _lora_file(value: Any) -> str:
    return local_file(value, (".safetensors",), "a LoRA")


@dataclass(frozen=True)
class SpeedOptions(_Settings):
    """How generation is sped up: a preset (wan.models.speed) and overrides of its parts."""

    PREFIX: ClassVar[str] = "speed_"

    preset: str = setting(
        DEFAULT_PRESET,
        Choice(tuple(PRESETS)),
        "quality is lossless; fast, fastest and distilled trade some quality for speed",
    )
    attention: str = setting(
        "auto",
        Choice(ATTENTION_CHOICES),
        "Attention kernel: auto (the GPU's fastest, measured), native, flash, cudnn, efficient, flex or "
        "flash_attn",
    )
    compile: str = setting(
        "auto",
        Choice(COMPILE_CHOICES),
        "torch.compile of the repeated transformer blocks: auto (CUDA with Triton), off or regional",
    )
    cache: str = setting(
        "auto",
        Choice(CACHE_CHOICES),
        "Step cache (lossy): auto (the preset's), none, first_block, mag, taylorseer, sea (T2V only)",
    )
    cache_threshold: float | None = setting(
        None,
        Number(0.0, 5.0, optional=True),
        "first_block, mag, sea: higher skips more steps (null: the preset's, else diffusers' default)",
    )
    fp8: str = setting(
        "auto",
        Choice(FP8_CHOICES),
        "fp8: auto (the preset's), off, layerwise (fp8 storage: less memory, slower), torchao (fp8 compute)",
    )
    lora: str = setting(
        "",
        Converted(_lora_file, "empty, or a .safetensors LoRA file"),
        "Step-distilled LoRA fused into the transformer (needed by the distilled preset)",
    )

    def _check_together(self) -> list[FieldError]:
        values = {"speed_cache_threshold": self.cache_threshold, "speed_lora": self.lora}
        return [
            FieldError(key, values[key], message)
            for key, message in combination_problems(self.preset, self.cache, self.cache_threshold, self.lora)
        ]


@dataclass(frozen=True)
class OutputOptions(_Settings):
    """Where and how the result is written."""

    PREFIX: ClassVar[str] = "output_"

    dir: str = setting("", Text(4096), "Output folder (empty: the default outputs folder)")
    crf: int = setting(17, Integer(0, 51), "H.264 quality: lower is better and larger (17 is near lossless)")
    color_coherence: bool = setting(True, Flag(), "Match each clip's colours to the first clip's")
    quality_checks: bool = setting(True, Flag(), "Measure flicker, seams and drift into metrics.json")
    save_frames: bool = setting(True, Flag(), "Keep the individual frames beside the video")


GROUPS: dict[str, type[_Settings]] = {
    "shake": ShakeOptions,
    "movement": MovementOptions,
    "enhancement": EnhancementOptions,
    "style": StyleOptions,
    "interpolation": InterpolationOptions,
    "memory": MemoryOptions,
    "speed": SpeedOptions,
    "output": OutputOptions,
}


def _group(cls: type[_Settings]) -> Any:
    return field(default_factory=cls, metadata={"group": cls})


@dataclass(frozen=True)
class WanConfig(_Settings):
    """A whole run: prompts, animation, camera schedules, model and the option groups."""

    prompts: tuple[tuple[str, str], ...] = setting(
        (("0", "a misty forest at dawn, sunbeams through tall pine trees, cinematic"),),
        Converted(normalize_prompts, 'an object of frame -> prompt, e.g. {"0": "a forest"}'),
        "Prompt schedule: frame (number or expression of max_f) -> prompt; '--neg' starts a negative part",
    )
    positive_prompt: str = setting(
        "",
        Text(5000),
        "Added in front of every prompt",
        key="positive_prompts",
        aliases=("positive_prompt",),
    )
    negative_prompt: str = setting(
        DEFAULT_NEGATIVE_PROMPT,
        Text(5000),
        "Added to every negative prompt",
        key="negative_prompts",
        aliases=("negative_prompt",),
    )
    max_frames: int = setting(81, Integer(1, MAX_FRAMES_LIMIT), "Length of the animation in output frames")
    fps: float = setting(16.0, Number(0.0, 240.0, exclusive_minimum=True), "Output frame rate")
    width: int = setting(
        832,
        FRAME_SIZE,
        "Frame width in pixels",
        key="W",
        aliases=("width",),
    )
    height: int = setting(
        480,
        FRAME_SIZE,
        "Frame height in pixels",
        key="H",
        aliases=("height",),
    )
    seed: int = setting(-1, Integer(-1, SEED_MAX), "Seed; -1 picks a random one when planning")
    seed_behavior: str = setting(
        "iter", Choice(SEED_BEHAVIORS), "How the seed changes from clip to clip (Deforum's behaviours)"
    )
    seed_iter_n: int = setting(
        1, Integer(1, 10_000), "With 'iter': the seed goes up by one every N clips", key="seed_iter_N"
    )
    seed_schedule: str = setting(
        DEFORUM_SEED_SCHEDULE, SCHEDULE, "With 'schedule': the seed per frame (s = seed, -1 = random)"
    )
    animation_mode: str = setting(
        "3D",
        Choice(ANIMATION_MODES, {"none": "None"}),
        "2D or 3D camera schedules, or None for a static camera",
    )
    translation_x: str = setting("0: (0)", SCHEDULE, "Move the camera left/right, pixels per frame")
    translation_y: str = setting("0: (0)", SCHEDULE, "Move the camera up/down, pixels per frame")
    translation_z: str = setting("0: (0)", SCHEDULE, "3D: move the camera towards/away from the view")
    rotation_3d_x: str = setting("0: (0)", SCHEDULE, "3D: tilt the camera up/down, degrees per frame")
    rotation_3d_y: str = setting("0: (0)", SCHEDULE, "3D: pan the camera left/right, degrees per frame")
    rotation_3d_z: str = setting(
        "0: (0)", SCHEDULE, "3D: roll the camera clockwise/anticlockwise, degrees per frame"
    )
    angle: str = setting(
        "0: (0)", SCHEDULE, "2D: rotate the canvas clockwise/anticlockwise, degrees per frame"
    )
    zoom: str = setting(
        "0: (1.0)", SCHEDULE, "2D: scale the canvas per frame, multiplicatively (1.0 = static)"
    )
    transform_center_x: str = setting("0: (0.5)", SCHEDULE, "2D: x centre of angle and zoom, 0-1 across")
    transform_center_y: str = setting("0: (0.5)", SCHEDULE, "2D: y centre of angle and zoom, 0-1 down")
    init_image: str = setting("", ImageFile(), "Image the first clip starts from (image-to-video)")
    model: str = setting(
        DEFAULT_MODEL,
        Converted(_model_ref, "a model id (python -m wan models), a hub id or a local folder"),
        "Video model: vace-1.3b, vace-14b, t2v-1.3b, t2v-14b, i2v-14b-480p, i2v-14b-720p or a folder",
    )
    i2v_model: str = setting(
        "",
        Converted(_optional_model_ref, "empty, or an image-to-video model"),
        "With a T2V model: the I2V model that continues each clip from the previous one's last frame",
    )
    clip_frames: int = setting(
        81, FourNPlusOne(5, 81), "Frames per generated clip (4n+1, at most the model's maximum)"
    )
    clip_overlap: int = setting(
        5, Integer(0, 77), "Frames of the previous clip that condition the next (dropped when joined)"
    )
    steps: int | None = setting(None, Integer(1, 200, optional=True), "Denoising steps (null: model default)")
    guidance_scale: float | None = setting(
        None, Number(0.0, 30.0, optional=True), "Classifier-free guidance (null: model default)"
    )
    flow_shift: float | None = setting(
        None,
        Number(0.0, 30.0, optional=True, exclusive_minimum=True),
        "Flow-matching shift (null: 3.0 at 480p, 5.0 at 720p)",
    )
    shake: ShakeOptions = _group(ShakeOptions)
    movement: MovementOptions = _group(MovementOptions)
    enhancement: EnhancementOptions = _group(EnhancementOptions)
    style: StyleOptions = _group(StyleOptions)
    interpolation: InterpolationOptions = _group(InterpolationOptions)
    memory: MemoryOptions = _group(MemoryOptions)
    speed: SpeedOptions = _group(SpeedOptions)
    output: OutputOptions = _group(OutputOptions)

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

    def _check_together(self) -> list[FieldError]:
        errors: list[FieldError] = []
        spec = model_spec(self.model)
        if self.clip_frames > spec.max_frames:
            errors.append(
                FieldError(
                    "clip_frames", self.clip_frames, f"{spec.id} generates at most {spec.max_frames} frames"
                )
            )
        model_frames = Timebase.of(self.fps, spec.native_fps).model_frames_for(self.max_frames)
        if model_frames > MAX_FRAMES_LIMIT:
            errors.append(
                FieldError(
                    "fps",
                    self.fps,
                    f"with max_frames {self.max_frames} the animation would need more than "
                    f"{MAX_FRAMES_LIMIT} frames of the model at {spec.native_fps} fps; raise fps or lower "
                    "max_frames",
                )
            )
        if self.clip_overlap > self.clip_frames - MIN_NEW_FRAMES:
            errors.append(
                FieldError(
                    "clip_overlap",
                    self.clip_overlap,
                    f"must leave at least {MIN_NEW_FRAMES} new frames per clip: at most "
                    f"{self.clip_frames - MIN_NEW_FRAMES} with clip_frames {self.clip_frames}",
                )
            )
        if self.i2v_model and model_spec(self.i2v_model).kind != "i2v":
            errors.append(
                FieldError(
                    "i2v_model",
                    self.i2v_model,
                    "must be an image-to-video model (i2v-14b-480p, i2v-14b-720p)",
                )
            )
        kinds = {spec.kind, model_spec(self.i2v_model).kind if self.i2v_model else spec.kind}
        if effective_cache(self.speed.cache, self.speed.preset) == "sea" and kinds != {"t2v"}:
            errors.append(
                FieldError(
                    "speed_cache",
                    self.speed.cache,
                    "sea works with text-to-video models only (t2v-1.3b, t2v-14b, without i2v_model)",
                )
            )
        if spec.kind == "i2v" and not self.init_image:
            errors.append(
                FieldError("init_image", self.init_image, f"{spec.id} starts from an image: give init_image")
            )
        try:
            PromptSchedule(
                self.prompts, self.max_frames, positive=self.positive_prompt, negative=self.negative_prompt
            )
        except ScheduleError as exc:
            errors.append(FieldError("prompts", dict(self.prompts), exc.detail))
        for name in (*MOVEMENT_SCHEDULES, "seed_schedule"):
            try:
                values = self.schedule_values(name)
            except ScheduleError as exc:
                errors.append(FieldError(name, getattr(self, name), exc.detail))
                continue
            if name == "zoom" and self.animation_mode == "2D" and (values <= 0).any():
                frame = int(np.argmax(values <= 0))
                errors.append(
                    FieldError(
                        name,
                        self.zoom,
                        f"is a scale factor and must stay above 0 (1.0 is static); "
                        f"frame {frame} gives {values[frame]:g}",
                    )
                )
        return errors

    def schedule_values(self, name: str, seed: int | None = None) -> np.ndarray:
        """Evaluate one schedule (e.g. 'zoom') over max_frames; `s` is `seed` or the config's seed."""
        if name not in (*MOVEMENT_SCHEDULES, "seed_schedule"):
            raise KeyError(f"unknown schedule '{name}'")
        return evaluate_schedule(
            getattr(self, name), self.max_frames, seed=self.seed if seed is None else seed, name=name
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings as one flat JSON-ready object (lossless: from_dict gives it back)."""
        data = super().to_dict()
        data["prompts"] = dict(self.prompts)
        for f in dataclasses.fields(self):
            if "group" in f.metadata:
                data.update(getattr(self, f.name).to_dict())
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The settings as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def group_from_mapping(cls: type[_Settings], values: Mapping[str, Any]) -> Any:
    """Build an option group from a mapping keyed by field name or by flat/short key."""
    by_key: dict[str, str] = {}
    for spec in cls.specs():
        short = spec.key.removeprefix(cls.PREFIX)
        for key in (spec.name, spec.key, short, *spec.aliases):
            by_key[key] = spec.name
    kwargs: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, value in values.items():
        if key in by_key:
            kwargs[by_key[key]] = value
        else:
            flat = cls.PREFIX + str(key)
            hint = did_you_mean(flat, [s.key for s in cls.specs()])
            errors.append(FieldError(flat, value, "unknown setting" + hint))
    if errors:
        raise SettingsError(errors)
    return cls(**kwargs)
