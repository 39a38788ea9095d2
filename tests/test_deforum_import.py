"""Importing Deforum settings files: Deforum's full default key set, forks, oddities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wan.config import SettingsError, config_from_dict, load_settings

EXAMPLE = Path(__file__).parent.parent / "examples" / "deforum_settings.txt"


def deforum_data() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_full_deforum_settings_file_imports():
    config, _ = load_settings(EXAMPLE)
    data = deforum_data()
    assert config.max_frames == data["max_frames"] and config.fps == data["fps"]
    assert (config.width, config.height) == (data["W"], data["H"])
    assert config.seed == data["seed"] and config.seed_behavior == data["seed_behavior"]
    assert config.translation_z == data["translation_z"]
    assert dict(config.prompts) == data["prompts"]
    assert config.positive_prompt == data["positive_prompts"]
    assert config.negative_prompt == data["negative_prompts"]
    assert config.steps == data["steps"]
    assert config.init_image == ""  # use_init is false


def test_keys_without_meaning_are_reported_once_not_dropped_silently():
    _, report = load_settings(EXAMPLE)
    assert "sampler" in report.ignored and "cfg_scale_schedule" in report.ignored
    assert "cn_1_weight" in report.ignored and "hybrid_motion" in report.ignored
    assert len(report.ignored) == len(set(report.ignored))
    ignored_lines = [line for line in report.lines() if line.startswith("Ignored")]
    assert len(ignored_lines) == 1 and "cn_* (" in ignored_lines[0]
    used = {"prompts", "W", "H", "max_frames", "fps", "seed", "steps", "translation_x", "zoom"}
    assert not used & set(report.ignored)


def test_every_deforum_default_key_is_known():
    _, report = load_settings(EXAMPLE)
    assert report.unknown == []


def test_deforum_file_tolerates_keys_of_other_forks_but_not_typos_of_ours():
    data = deforum_data() | {"some_future_deforum_option": 3}
    _, report = config_from_dict(data)
    assert report.unknown == ["some_future_deforum_option"]
    with pytest.raises(SettingsError, match="did you mean 'clip_overlap'"):
        config_from_dict(deforum_data() | {"clip_overlapp": 3})


def test_our_own_keys_sit_beside_deforums():
    config, _ = config_from_dict(
        deforum_data()
        | {"model": "t2v-1.3b", "clip_overlap": 9, "guidance_scale": 6.5, "movement_mode": "off"}
    )
    assert config.model == "t2v-1.3b" and config.clip_overlap == 9
    assert config.guidance_scale == 6.5 and config.movement.mode == "off"


def test_older_deforum_names():
    data = {
        "animation_prompts": '{"0": "a forest"}',
        "animation_prompts_positive": "film",
        "animation_prompts_negative": "--neg blurry",
        "W": 512,
        "H": 512,
        "sampler": "Euler",
    }
    config, report = config_from_dict(data)
    assert config.prompts == (("0", "a forest"),)
    assert config.positive_prompt == "film" and config.negative_prompt.strip() == "blurry"
    assert report.ignored == ["sampler"]


def test_use_init_and_animation_modes(tmp_path):
    image = tmp_path / "init.png"
    image.write_bytes(b"\x89PNG")
    config, _ = config_from_dict({"use_init": True, "init_image": str(image), "sampler": "x"})
    assert config.init_image == str(image)
    config, _ = config_from_dict({"use_init": False, "init_image": "https://deforum.github.io/a1/I1.png"})
    assert config.init_image == ""
    config, report = config_from_dict({"animation_mode": "Video Input", "sampler": "x"})
    assert config.animation_mode == "None" and "no Wan equivalent" in report.notes[0]
    with pytest.raises(SettingsError, match="animation_mode: must be one of 2D, 3D, None"):
        config_from_dict({"animation_mode": "4D"})


def test_deforum_forge_fork_wan_settings_are_translated():
    data = deforum_data() | {
        "wan_prompts": {"0": "a white bunny in a meadow", "12": "a glowing bunny"},
        "wan_resolution": "864x480 (Landscape)",
        "wan_inference_steps": 20,
        "wan_guidance_scale": 7.5,
        "wan_frame_overlap": 2,
        "wan_t2v_model": "14B VACE",
        "wan_seed": -1,
        "wan_qwen_language": "Chinese",
        "wan_movement_sensitivity": 1.5,
        "wan_flash_attention_mode": "Auto (Recommended)",
        "shake_name": "INVESTIGATION",
        "shake_intensity": 2.0,
    }
    config, report = config_from_dict(data)
    assert dict(config.prompts) == data["wan_prompts"]
    assert (config.width, config.height, config.steps) == (864, 480, 20)
    assert config.guidance_scale == 7.5 and config.clip_overlap == 2 and config.model == "vace-14b"
    assert config.seed == data["seed"]  # wan_seed -1 means "not set"
    assert config.enhancement.language == "zh" and config.movement.sensitivity == 1.5
    assert config.shake.name == "INVESTIGATION" and config.shake.intensity == 2.0
    assert "wan_flash_attention_mode" in report.ignored
    assert "wan_resolution" not in report.ignored  # translated, listed in the notes instead
    assert any("wan_resolution" in note for note in report.notes)


def test_bad_values_in_a_deforum_file_are_errors_naming_the_key():
    with pytest.raises(SettingsError) as caught:
        config_from_dict(deforum_data() | {"W": 5000, "translation_x": "0:(0), 30:(5*sinn(t))"})
    keys = {e.key for e in caught.value.errors}
    assert keys == {"W", "translation_x"}


def test_a_near_miss_of_a_deforum_key_is_ignored_with_a_note():
    """cfgscale_schedule is nearer Deforum's cfg_scale_schedule than our style_schedule: a Deforum
    file's typo of its own key, noted and ignored (d1b0a49 refused it as a typo of ours)."""
    _, report = config_from_dict(deforum_data() | {"cfgscale_schedule": "0:(7)"})
    assert report.unknown == ["cfgscale_schedule"]
    with pytest.raises(SettingsError, match="did you mean 'clip_overlap'"):
        config_from_dict(deforum_data() | {"clip_overlapp": 3})


def test_the_unknown_keys_of_a_deforum_file_are_checked_a_bounded_number_of_times():
    """Each unknown key of a Deforum file costs two fuzzy matches; past 50 of them the rest are
    only noted, so a file of near-misses cannot keep the server busy."""
    from wan.config.deforum import MAX_NEAR_MISS_CHECKS

    typos = {f"clip_overlap{chr(97 + i // 26)}{chr(97 + i % 26)}": 3 for i in range(1500)}
    with pytest.raises(SettingsError) as caught:
        config_from_dict(deforum_data() | typos)
    assert len(caught.value.errors) == MAX_NEAR_MISS_CHECKS
