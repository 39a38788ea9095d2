"""Settings: the one model of every setting a run has, as frozen dataclasses validated at the
edge; JSON I/O and Deforum settings import; which files callers may name.

Every setting is declared once, in the module of its group (shake, movement, enhancement,
style, interpolation, memory, speed, lora, output, weights, preview, quality, gate, upscale) or in
settings.py for the animation itself; the CLI, the UI, the REST schema and validation all read
those declarations.
"""

from .deforum import ImportReport
from .enhancement import ENHANCE_BACKENDS, LANGUAGES, EnhancementOptions
from .fields import FieldError, SettingsError, Spec, did_you_mean
from .files import FileAccess, current_file_access, file_access
from .folders import default_lora_folders, default_models_dir, lora_folders, lora_search
from .gate import GateOptions
from .interpolation import INTERPOLATION_METHODS, INTERPOLATION_QUALITIES, InterpolationOptions
from .load import (
    SettingsFileError,
    all_specs,
    config_from_dict,
    default_of,
    load_settings,
    parse_settings_text,
    read_settings_file,
    save_settings,
)
from .lora import EXPERTS, MAX_LORAS, LoraOptions, LoraSpec, list_loras
from .memory import MEMORY_CHOICES, MEMORY_PRESETS, MemoryOptions, MemoryPreset, preset_for_vram
from .movement import MovementOptions
from .output import DEFAULT_OUTPUT_DIR, OutputOptions
from .preview import PreviewOptions
from .quality import QualityOptions
from .settings import (
    ANIMATION_MODES,
    DEFAULT_NEGATIVE_PROMPT,
    GROUPS,
    MOVEMENT_SCHEDULES,
    SEED_BEHAVIORS,
    WanConfig,
    model_of,
)
from .shake import ShakeOptions
from .speed import SPEED_PRESETS, SpeedOptions, SpeedPreset
from .style import BLEND_MODES, StyleOptions
from .upscale import UpscaleOptions

__all__ = [
    "ANIMATION_MODES",
    "BLEND_MODES",
    "DEFAULT_NEGATIVE_PROMPT",
    "DEFAULT_OUTPUT_DIR",
    "ENHANCE_BACKENDS",
    "EXPERTS",
    "GROUPS",
    "INTERPOLATION_METHODS",
    "INTERPOLATION_QUALITIES",
    "LANGUAGES",
    "MAX_LORAS",
    "MEMORY_CHOICES",
    "MEMORY_PRESETS",
    "MOVEMENT_SCHEDULES",
    "SEED_BEHAVIORS",
    "SPEED_PRESETS",
    "EnhancementOptions",
    "FieldError",
    "FileAccess",
    "GateOptions",
    "ImportReport",
    "InterpolationOptions",
    "LoraOptions",
    "LoraSpec",
    "MemoryOptions",
    "MemoryPreset",
    "MovementOptions",
    "OutputOptions",
    "PreviewOptions",
    "QualityOptions",
    "SettingsError",
    "SettingsFileError",
    "ShakeOptions",
    "Spec",
    "SpeedOptions",
    "SpeedPreset",
    "StyleOptions",
    "UpscaleOptions",
    "WanConfig",
    "all_specs",
    "config_from_dict",
    "current_file_access",
    "default_lora_folders",
    "default_models_dir",
    "default_of",
    "did_you_mean",
    "file_access",
    "list_loras",
    "load_settings",
    "lora_folders",
    "lora_search",
    "model_of",
    "parse_settings_text",
    "preset_for_vram",
    "read_settings_file",
    "save_settings",
]
