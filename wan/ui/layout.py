"""Which settings the tab shows, in which section, and how each is drawn.

Every control is made from its setting's Spec (wan.config): its label, default, what it allows
and its help text (the tooltip) come from one place, so the UI can never disagree with the
validation. A section lists settings keys in the order they are shown; a setting no section
lists is shown anyway, at the end of its group's section (GROUP_SECTIONS) or of "More
settings", so a new setting appears in the tab without touching this file. `SLIDERS` draws small
numeric ranges as sliders.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MOVEMENT_KEYS = (
    "animation_mode",
    "translation_x",
    "translation_y",
    "translation_z",
    "zoom",
    "angle",
    "rotation_3d_x",
    "rotation_3d_y",
    "rotation_3d_z",
)


@dataclass(frozen=True)
class Section:
    """A group of settings shown together."""

    title: str
    keys: tuple[str, ...]
    open: bool = True
    plot: bool = False  # the camera curves beside the controls, redrawn as they change


PROMPT_SECTION = Section(
    "Animation",
    (
        "max_frames",
        "fps",
        "seed",
        "seed_behavior",
        "seed_iter_N",
        "seed_schedule",
        "clip_seeds",
        "positive_prompts",
        "negative_prompts",
        "init_image",
    ),
)
MOVEMENT_SECTIONS = (
    Section(
        "Camera schedules (Deforum syntax)",
        (*MOVEMENT_KEYS, "transform_center_x", "transform_center_y"),
        plot=True,
    ),
    Section("Camera shake (Shakify)", ("shake_name", "shake_intensity", "shake_speed"), open=False),
    Section(
        "Movement in prompts", ("movement_mode", "movement_sensitivity", "movement_max_phrases"), open=False
    ),
)
ENHANCE_SECTIONS = (
    Section(
        "Prompt enhancement",
        (
            "enhance_enabled",
            "enhance_backend",
            "enhance_model",
            "enhance_api_url",
            "enhance_language",
            "enhance_strength",
            "enhance_max_words",
            "enhance_movement_context",
            "enhance_seed",
            "enhance_timeout",
            "enhance_batch_size",
        ),
    ),
    Section(
        "Style",
        ("style_text", "style_strength", "style_blend_mode", "style_schedule", "style_temporal_consistency"),
    ),
)
# the LoRA rows (wan.ui.lora_rows) are drawn in this section, above any lora setting it lists
LORA_SECTION = "LoRAs"
MODEL_SECTIONS = (
    Section("Model", ("model", "i2v_model", "steps", "guidance_scale", "guidance_scale_2", "flow_shift")),
    Section("Size and clips", ("W", "H", "clip_frames", "clip_overlap")),
    Section("Memory", ("memory_preset", "weights", "weights_file", "weights_file_2")),
    Section(LORA_SECTION, (), open=False),
    Section(
        "Preview (fast, then render)",
        ("preview_enabled", "preview_scale", "preview_steps", "preview_speed"),
        open=False,
    ),
    Section(
        "Speed",
        (
            "speed_preset",
            "speed_attention",
            "speed_compile",
            "speed_cache",
            "speed_cache_threshold",
            "speed_fp8",
            "speed_lora",
            "speed_lora_weight",
        ),
        open=False,
    ),
)
OUTPUT_SECTIONS = (
    Section(
        "Interpolation",
        ("interpolation_enabled", "interpolation_method", "interpolation_strength", "interpolation_quality"),
    ),
    Section(
        "Output",
        (
            "output_dir",
            "from_run",
            "output_crf",
            "output_color_coherence",
            "output_quality_checks",
            "output_save_frames",
        ),
    ),
    Section("Quality: prompt adherence and the quality gate", (), open=False),
    Section("Upscaling", (), open=False),
)
# numeric settings drawn as sliders: key -> step
SLIDERS = {
    "shake_intensity": 0.05,
    "shake_speed": 0.05,
    "movement_sensitivity": 0.1,
    "enhance_strength": 0.05,
    "style_strength": 0.05,
    "interpolation_strength": 0.05,
    "preview_scale": 0.05,
    "guidance_scale": 0.5,
    "output_crf": 1,
}
LONG_TEXT = {"positive_prompts", "negative_prompts", "style_text", "style_schedule"}
# (label, width, height): Wan's trained sizes first
RESOLUTIONS = (
    ("832×480 (480p landscape)", 832, 480),
    ("480×832 (480p portrait)", 480, 832),
    ("1280×720 (720p landscape, 14B)", 1280, 720),
    ("720×1280 (720p portrait, 14B)", 720, 1280),
    ("1280×704 (TI2V-5B landscape)", 1280, 704),
    ("704×1280 (TI2V-5B portrait)", 704, 1280),
    ("624×624 (square)", 624, 624),
)


MORE_SECTION = Section("More settings", (), open=False)
# settings drawn by controls of their own, not from their Spec: the prompt box, the LoRA rows
OWN_CONTROLS = frozenset({"prompts", "loras"})
# the section that takes a group's settings no section lists
GROUP_SECTIONS = {
    "shake": "Camera shake (Shakify)",
    "movement": "Movement in prompts",
    "enhancement": "Prompt enhancement",
    "style": "Style",
    "interpolation": "Interpolation",
    "memory": "Memory",
    "speed": "Speed",
    "lora": LORA_SECTION,
    "output": "Output",
    "weights": "Memory",
    "preview": "Preview (fast, then render)",
    "quality": "Quality: prompt adherence and the quality gate",
    "gate": "Quality: prompt adherence and the quality gate",
    "upscale": "Upscaling",
}
TABS = {
    "Prompts & schedules": (PROMPT_SECTION, *MOVEMENT_SECTIONS),
    "Prompt enhancement": ENHANCE_SECTIONS,
    "Model & memory": MODEL_SECTIONS,
    "Output": (*OUTPUT_SECTIONS, MORE_SECTION),
}


def tabs() -> dict[str, tuple[Section, ...]]:
    """The sections of each tab of the form, every setting placed (see the module doc)."""
    from ..config import all_specs

    listed = {key for sections in TABS.values() for section in sections for key in section.keys}
    extra: dict[str, list[str]] = {}
    for group, spec in all_specs():
        if spec.key not in listed and spec.key not in OWN_CONTROLS:
            extra.setdefault(GROUP_SECTIONS.get(group or "", MORE_SECTION.title), []).append(spec.key)
    return {
        tab: tuple(
            replace(section, keys=(*section.keys, *extra.get(section.title, ()))) for section in sections
        )
        for tab, sections in TABS.items()
    }


def all_section_keys() -> tuple[str, ...]:
    """Every settings key the form shows, in order (the prompt box and the LoRA rows are apart)."""
    return tuple(key for sections in tabs().values() for section in sections for key in section.keys)
