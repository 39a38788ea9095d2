"""Reading Deforum settings files (the JSON `.txt` Deforum saves and loads).

Deforum's keys that mean the same thing for Wan are used as they are (our settings use the same
names); the rest are reported once as ignored. Settings written by the Deforum Forge fork that
first ran Wan (`wan_prompts`, `wan_resolution`, `wan_inference_steps`, ...) are translated to
ours. Keys that are neither ours nor Deforum's are tolerated in a Deforum file (other forks add
their own) unless they look like a misspelling of one of ours.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .fields import NEAR_MISS, did_you_mean

# Unknown keys of a Deforum file checked for being a misspelling of ours (a fuzzy match each);
# beyond this many, a file is not a settings file someone typed, and the rest are noted only.
MAX_NEAR_MISS_CHECKS = 50
# Every key that Deforum for A1111 and its Forge fork write into a settings file and that has no
# meaning for Wan (ControlNet units, FreeU and Kohya HR-fix keys are matched by pattern below).
DEFORUM_IGNORED_KEYS = frozenset(
    {
        "add_soundtrack",
        "additional_substitutions",
        "amount_schedule",
        "ancestral_eta_schedule",
        "aspect_ratio_schedule",
        "aspect_ratio_use_old_formula",
        "batch_name",
        "blendFactorMax",
        "blendFactorSlope",
        "border",
        "cadence_flow_factor_schedule",
        "cfg_scale_schedule",
        "checkpoint_schedule",
        "clipskip_schedule",
        "color_coherence",
        "color_coherence_image_path",
        "color_coherence_video_every_N_frames",
        "color_correction_factor",
        "color_force_grayscale",
        "contrast_schedule",
        "custom_settings_file",
        "ddim_eta_schedule",
        "deforum_git_commit_id",
        "delete_imgs",
        "delete_input_frames",
        "depth_algorithm",
        "diffusion_cadence",
        "diffusion_redo",
        "distilled_cfg_scale_schedule",
        "enable_ancestral_eta_scheduling",
        "enable_checkpoint_scheduling",
        "enable_clipskip_scheduling",
        "enable_ddim_eta_scheduling",
        "enable_noise_multiplier_scheduling",
        "enable_perspective_flip",
        "enable_sampler_scheduling",
        "enable_scheduler_scheduling",
        "enable_steps_scheduling",
        "enable_subseed_scheduling",
        "extract_from_frame",
        "extract_nth_frame",
        "extract_to_frame",
        "far_schedule",
        "fill",
        "fov_schedule",
        "frame_interpolation_engine",
        "frame_interpolation_keep_imgs",
        "frame_interpolation_slow_mo_amount",
        "frame_interpolation_slow_mo_enabled",
        "frame_interpolation_use_upscaled",
        "frame_interpolation_x_amount",
        "full_base_folder_path",
        "full_res_mask",
        "full_res_mask_padding",
        "hybrid_comp_alpha_schedule",
        "hybrid_comp_mask_auto_contrast",
        "hybrid_comp_mask_auto_contrast_cutoff_high_schedule",
        "hybrid_comp_mask_auto_contrast_cutoff_low_schedule",
        "hybrid_comp_mask_blend_alpha_schedule",
        "hybrid_comp_mask_contrast_schedule",
        "hybrid_comp_mask_equalize",
        "hybrid_comp_mask_inverse",
        "hybrid_comp_mask_type",
        "hybrid_comp_save_extra_frames",
        "hybrid_composite",
        "hybrid_consistency_blur",
        "hybrid_flow_consistency",
        "hybrid_flow_factor_schedule",
        "hybrid_flow_method",
        "hybrid_generate_human_masks",
        "hybrid_generate_inputframes",
        "hybrid_motion",
        "hybrid_motion_use_prev_img",
        "hybrid_use_first_frame_as_init_image",
        "hybrid_use_init_image",
        "image_keyframe_strength_schedule",
        "image_path",
        "image_strength_schedule",
        "init_image_box",
        "init_images",
        "invert_mask",
        "kernel_schedule",
        "keyframe_distribution",
        "keyframe_strength_schedule",
        "legacy_colormatch",
        "make_gif",
        "mask_brightness_adjust",
        "mask_contrast_adjust",
        "mask_file",
        "mask_overlay_blur",
        "mask_schedule",
        "midas_weight",
        "motion_preview_mode",
        "near_schedule",
        "noise_mask_schedule",
        "noise_multiplier_schedule",
        "noise_schedule",
        "noise_type",
        "optical_flow_cadence",
        "optical_flow_redo_generation",
        "overlay_mask",
        "override_settings_with_file",
        "overwrite_extracted_frames",
        "padding_mode",
        "parseq_manifest",
        "parseq_non_schedule_overrides",
        "parseq_use_deltas",
        "perlin_h",
        "perlin_octaves",
        "perlin_persistence",
        "perlin_w",
        "perspective_flip_fv",
        "perspective_flip_gamma",
        "perspective_flip_phi",
        "perspective_flip_theta",
        "pix2pix_img_cfg_scale_schedule",
        "r_upscale_factor",
        "r_upscale_keep_imgs",
        "r_upscale_model",
        "r_upscale_video",
        "redo_flow_factor_schedule",
        "reroll_blank_frames",
        "reroll_patience",
        "restore_faces",
        "resume_from_timestring",
        "resume_timestring",
        "sampler",
        "sampler_schedule",
        "sampling_mode",
        "save_depth_maps",
        "scheduler",
        "scheduler_schedule",
        "sd_model_hash",
        "sd_model_name",
        "seed_resize_from_h",
        "seed_resize_from_w",
        "show_info_on_ui",
        "sigma_schedule",
        "skip_video_creation",
        "soundtrack_path",
        "steps_schedule",
        "store_frames_in_ram",
        "strength",
        "strength_0_no_init",
        "strength_schedule",
        "subseed_schedule",
        "subseed_strength_schedule",
        "threshold_schedule",
        "tiling",
        "tweening_frames_schedule",
        "use_alpha_as_mask",
        "use_depth_warping",
        "use_init",
        "use_looper",
        "use_mask",
        "use_mask_video",
        "use_noise_mask",
        "video_init_path",
        "video_mask_path",
        "wan_auto_download",
        "wan_enable_interpolation",
        "wan_enhanced_prompts",
        "wan_fixed_strength",
        "wan_flash_attention_mode",
        "wan_frame_overlap",
        "wan_guidance_override",
        "wan_guidance_scale",
        "wan_i2v_model",
        "wan_inference_steps",
        "wan_interpolation_strength",
        "wan_model_path",
        "wan_motion_strength",
        "wan_motion_strength_override",
        "wan_movement_description",
        "wan_movement_sensitivity",
        "wan_preferred_size",
        "wan_prompts",
        "wan_qwen_auto_download",
        "wan_qwen_language",
        "wan_qwen_model",
        "wan_resolution",
        "wan_seed",
        "wan_strength_override",
        "wan_t2v_model",
        # renamed or removed in Deforum's own history (deprecation_utils.py)
        "histogram_matching",
        "flip_2d_perspective",
        "skip_video_for_run_all",
        "use_zoe_depth",
    }
)
_IGNORED_PATTERN = re.compile(r"(cn_\d+|freeu|kohya_hrfix)_\w+")

# The Deforum Forge fork's Wan settings: its model labels -> our model ids.
_FORK_MODELS = {
    "1.3b vace": "vace-1.3b",
    "14b vace": "vace-14b",
    "1.3b t2v (legacy)": "t2v-1.3b",
    "14b t2v (legacy)": "t2v-14b",
}
_FORK_I2V_MODELS = {"14b i2v 720p (legacy)": "i2v-14b-720p", "14b i2v 480p (legacy)": "i2v-14b-480p"}
_RESOLUTION = re.compile(r"\s*(\d+)\s*[x×]\s*(\d+)")


@dataclass
class ImportReport:
    """What happened to the keys of a settings object on the way in."""

    ignored: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary: translations, then ignored keys in one line each kind."""
        out = list(self.notes)
        if self.ignored:
            out.append(
                f"Ignored {len(self.ignored)} Deforum setting(s) that have no meaning for Wan: "
                + ", ".join(_compact(self.ignored))
            )
        if self.unknown:
            out.append(
                f"Ignored {len(self.unknown)} setting(s) unknown to Wan Video and Deforum: "
                + ", ".join(sorted(self.unknown))
            )
        return out

    def to_dict(self) -> dict[str, list[str]]:
        """JSON-friendly form."""
        return {"ignored": sorted(self.ignored), "unknown": sorted(self.unknown), "notes": self.notes}


def _compact(keys: list[str]) -> list[str]:
    """Sorted key names, families of 4 or more sharing a first word shown as `word_* (n)`."""
    families: dict[str, list[str]] = {}
    for key in sorted(keys):
        families.setdefault(key.split("_", 1)[0], []).append(key)
    shown = []
    for word, members in families.items():
        shown += [f"{word}_* ({len(members)})"] if len(members) >= 4 else members
    return shown


def is_deforum_key(key: str) -> bool:
    """Whether Deforum (A1111 or Forge fork) writes this key and it has no meaning for Wan."""
    return key in DEFORUM_IGNORED_KEYS or _IGNORED_PATTERN.fullmatch(key) is not None


def _translate_fork(data: Mapping[str, Any], out: dict[str, Any], report: ImportReport) -> None:
    """Settings of the Deforum Forge fork's Wan mode, which override the Deforum values."""

    def put(key: str, value: Any, source: str, *, only_if_absent: bool = True) -> None:
        if only_if_absent and key in data:
            return
        out[key] = value
        out.pop(source, None)
        report.notes.append(f"{source} = {data[source]!r} -> {key} = {value!r}")

    prompts = data.get("wan_prompts")
    if isinstance(prompts, Mapping) and prompts:
        put("prompts", dict(prompts), "wan_prompts", only_if_absent=False)
        report.notes[-1] = "wan_prompts (the fork's Wan prompts) are used instead of prompts"
    match = _RESOLUTION.match(str(data.get("wan_resolution", "")))
    if match:
        out["W"], out["H"] = int(match.group(1)), int(match.group(2))
        out.pop("wan_resolution")
        report.notes.append(f"wan_resolution = {data['wan_resolution']!r} -> W = {out['W']}, H = {out['H']}")
    if "wan_inference_steps" in data:
        put("steps", data["wan_inference_steps"], "wan_inference_steps", only_if_absent=False)
    if data.get("wan_seed") not in (None, -1, "-1"):
        put("seed", data["wan_seed"], "wan_seed", only_if_absent=False)
    if "wan_guidance_scale" in data:
        put("guidance_scale", data["wan_guidance_scale"], "wan_guidance_scale")
    if "wan_frame_overlap" in data:
        put("clip_overlap", data["wan_frame_overlap"], "wan_frame_overlap")
    model = str(data.get("wan_t2v_model", "")).strip().lower()
    if model in _FORK_MODELS:
        put("model", _FORK_MODELS[model], "wan_t2v_model")
    elif model == "custom path" and data.get("wan_model_path"):
        put("model", data["wan_model_path"], "wan_model_path")
    i2v = str(data.get("wan_i2v_model", "")).strip().lower()
    if i2v in _FORK_I2V_MODELS:
        put("i2v_model", _FORK_I2V_MODELS[i2v], "wan_i2v_model")
    language = str(data.get("wan_qwen_language", "")).strip().lower()
    if language in ("english", "chinese"):
        put("enhance_language", "en" if language == "english" else "zh", "wan_qwen_language")
    if "wan_movement_sensitivity" in data:
        put("movement_sensitivity", data["wan_movement_sensitivity"], "wan_movement_sensitivity")
    if "wan_enable_interpolation" in data:
        put("interpolation_enabled", data["wan_enable_interpolation"], "wan_enable_interpolation")


def translate(data: Mapping[str, Any], our_keys: Collection[str]) -> tuple[dict[str, Any], ImportReport]:
    """Map Deforum's keys onto ours; drop and report the ones without meaning for Wan."""
    out = dict(data)
    report = ImportReport()
    for old, new in (
        ("animation_prompts", "prompts"),
        ("animation_prompts_positive", "positive_prompts"),
        ("animation_prompts_negative", "negative_prompts"),
    ):
        if old in out:
            value = out.pop(old)
            if new not in data:
                out[new] = (
                    value.replace("--neg", "")
                    if new == "negative_prompts" and isinstance(value, str)
                    else value
                )
    if "use_init" in out and not out.get("use_init"):
        out.pop("init_image", None)
    if "init_image" in out and out["init_image"] is None:
        out["init_image"] = ""
    mode = out.get("animation_mode")
    if mode in ("Interpolation", "Video Input"):
        out["animation_mode"] = "None"
        report.notes.append(
            f"animation_mode '{mode}' has no Wan equivalent; the camera is treated as static (None)"
        )
    for switch in ("enable_shakify", "wan_enable_shakify"):  # the Forge fork's shake switches
        if switch in out and not out.pop(switch):
            out["shake_name"] = "None"
            report.notes.append(f"{switch} is off -> shake_name = 'None'")
    if "color_coherence" in out:
        coherence = out.pop("color_coherence")
        if "output_color_coherence" not in data:
            out["output_color_coherence"] = str(coherence) != "None"
            report.notes.append(
                f"color_coherence = {coherence!r} -> output_color_coherence = {out['output_color_coherence']}"
            )
    _translate_fork(data, out, report)

    deforum_file = any(is_deforum_key(key) for key in data)
    checked = 0  # fuzzy matches are costly: a file with this many unknown keys is not checked further
    for key in list(out):
        if key in our_keys:
            continue
        if is_deforum_key(key):
            report.ignored.append(key)
            del out[key]
        elif deforum_file:
            checked += 1
            if checked > MAX_NEAR_MISS_CHECKS or not _looks_like_ours(key, our_keys):
                report.unknown.append(key)
                del out[key]
    return out, report


def _closeness(word: str, options: Collection[str], cutoff: float) -> float:
    """The similarity of `word` to its closest option, or 0.0 when none reaches `cutoff`."""
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=cutoff)
    return difflib.SequenceMatcher(None, word, close[0]).ratio() if close else 0.0


def _looks_like_ours(key: str, our_keys: Collection[str]) -> bool:
    """Whether an unknown key of a Deforum file is a misspelling of one of our settings (an
    error worth a hint) rather than of one of Deforum's own keys (noted and ignored)."""
    if not did_you_mean(key, our_keys):
        return False
    ours = _closeness(key, our_keys, NEAR_MISS)
    # only Deforum keys at least as close can win: the cutoff spares comparing with the others
    return ours > _closeness(key, DEFORUM_IGNORED_KEYS, ours)
