"""Settings: validation messages, JSON round trip, option groups, Python construction."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wan.config import (
    GROUPS,
    SEED_BEHAVIORS,
    MovementOptions,
    SettingsError,
    WanConfig,
    all_specs,
    config_from_dict,
    load_settings,
    save_settings,
)


def errors_of(data: dict) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        config_from_dict(data)
    return {e.key: str(e) for e in caught.value.errors}


def test_defaults_are_valid_and_sensible():
    config = WanConfig()
    assert (config.width, config.height, config.model) == (832, 480, "vace-1.3b")
    assert config.clip_frames is None and config.frames_per_clip() == 81 and config.movement.mode == "append"


def test_any_frame_size_in_range_is_accepted():
    config, _ = config_from_dict({"W": 850, "H": 487})
    assert (config.width, config.height) == (850, 487)
    errors = errors_of({"W": 20, "H": 4000})
    assert "from 64 to 2048" in errors["W"] and "(got 4000)" in errors["H"]


def test_clip_frames_must_be_4n_plus_1():
    assert "nearest valid: 49" in errors_of({"clip_frames": 50})["clip_frames"]
    assert "from 5 to 121" in errors_of({"clip_frames": 125})["clip_frames"]
    assert "vace-1.3b generates at most 81 frames" in errors_of({"clip_frames": 85})["clip_frames"]


def test_unknown_keys_get_did_you_mean():
    errors = errors_of({"guidence_scale": 5, "max_frame": 10})
    assert "did you mean 'guidance_scale'" in errors["guidence_scale"]
    assert "did you mean 'max_frames'" in errors["max_frame"]
    assert "python -m wan settings --list" in errors_of({"zzz_qqq": 1})["zzz_qqq"]


def test_all_errors_are_reported_at_once_with_field_value_and_allowed():
    errors = errors_of(
        {
            "W": 20,
            "fps": 0,
            "seed_behavior": "iterr",
            "steps": True,
            "movement_sensitivity": 9,
            "translation_x": "0:(sinn(t))",
            "prompts": {"0": 3},
        }
    )
    assert set(errors) == {
        "W",
        "fps",
        "seed_behavior",
        "steps",
        "movement_sensitivity",
        "translation_x",
        "prompts",
    }
    assert "did you mean 'iter'" in errors["seed_behavior"]
    assert "from 1 to 200" in errors["steps"]
    assert "keyframe 1, character 4: unknown function 'sinn'" in errors["translation_x"]
    assert "from 0.1 to 5" in errors["movement_sensitivity"] and "(got 9)" in errors["movement_sensitivity"]


def test_cross_field_checks():
    overlap_error = errors_of({"clip_frames": 49, "clip_overlap": 46})["clip_overlap"]
    assert "at most 45 with clip_frames 49" in overlap_error
    assert "starts from an image" in errors_of({"model": "i2v-14b-480p"})["init_image"]
    assert "image-to-video" in errors_of({"model": "t2v-1.3b", "i2v_model": "vace-1.3b"})["i2v_model"]
    message = errors_of({"prompts": {"0": "a", "max_f/x": "b"}})["prompts"]
    assert "unknown name 'x'" in message


def test_zoom_must_stay_positive_in_2d():
    message = errors_of({"animation_mode": "2D", "zoom": "0:(1), 10:(-1)"})["zoom"]
    assert "must stay above 0" in message and "frame 5 gives 0" in message
    assert WanConfig(animation_mode="3D", zoom="0:(0)").zoom == "0:(0)"  # 3D ignores zoom


def test_schedules_are_evaluated_against_max_frames():
    message = errors_of({"max_frames": 10, "zoom": "0:(1), 5:(1/(t-7))"})["zoom"]
    assert "finite" in message and "frame 7" in message


def test_model_accepts_ids_hub_ids_and_folders(tmp_path):
    assert WanConfig(model="VACE-14B").model == "vace-14b"
    assert WanConfig(model="Wan-AI/Wan2.1-T2V-1.3B-Diffusers").model == "t2v-1.3b"
    folder = tmp_path / "my-vace"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "WanVACEPipeline"}')
    assert WanConfig(model=str(folder)).model == str(folder)
    assert "unknown model 'wan-3'" in errors_of({"model": "wan-3"})["model"]
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    assert "StableDiffusionPipeline" in errors_of({"model": str(folder)})["model"]


def test_init_image_must_be_a_local_image(tmp_path):
    image = tmp_path / "start.png"
    image.write_bytes(b"\x89PNG")
    assert WanConfig(init_image=str(image)).init_image == str(image)
    assert "no such file" in errors_of({"init_image": str(tmp_path / "missing.png")})["init_image"]
    assert "URLs are not downloaded" in errors_of({"init_image": "https://x/y.png"})["init_image"]


def test_values_are_normalised():
    config, _ = config_from_dict(
        {
            "max_frames": "120",
            "fps": 24,
            "W": 832.0,
            "animation_mode": "2d",
            "enhance_language": "Chinese",
            "shake_name": "investigation",
        }
    )
    assert config.max_frames == 120 and config.fps == 24.0 and config.width == 832
    assert config.animation_mode == "2D" and config.enhancement.language == "zh"
    assert config.shake.name == "INVESTIGATION"


def test_booleans_are_not_numbers_and_huge_values_are_refused():
    assert "whole number" in errors_of({"max_frames": True})["max_frames"]
    assert "from 1 to 100000" in errors_of({"max_frames": 10**12})["max_frames"]
    assert "at most 5000 characters" in errors_of({"negative_prompts": "x" * 6000})["negative_prompts"]


def test_option_groups_accept_nested_objects_and_flat_keys():
    config, _ = config_from_dict(
        {"movement": {"sensitivity": 2, "mode": "prepend"}, "interpolation_method": "linear"}
    )
    assert config.movement == MovementOptions(mode="prepend", sensitivity=2.0)
    assert config.interpolation.method == "linear"
    assert "did you mean 'movement_mode'" in errors_of({"movement": {"mod": "off"}})["movement_mod"]


def test_aliases_and_conflicts():
    config, _ = config_from_dict({"width": 1280, "height": 720, "negative_prompt": "x"})
    assert (config.width, config.height, config.negative_prompt) == (1280, 720, "x")
    assert "is also given as" in " ".join(errors_of({"W": 832, "width": 1280}).values())


def test_python_construction_validates_and_is_frozen():
    with pytest.raises(SettingsError, match="W: must be a whole number from 64 to 2048"):
        WanConfig(width=20)
    config = WanConfig(prompts={"0": "a", "10": "b"}, movement={"sensitivity": 3})
    assert config.prompts == (("0", "a"), ("10", "b")) and config.movement.sensitivity == 3.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.width = 16  # type: ignore[misc]
    with pytest.raises(SettingsError, match="clip_frames"):
        dataclasses.replace(config, clip_frames=7.5)


def test_settings_object_must_be_a_mapping():
    with pytest.raises(SettingsError, match="must be a JSON object"):
        config_from_dict(["not", "an", "object"])


def test_every_setting_has_help_and_a_description():
    specs = all_specs()
    keys = [spec.key for _, spec in specs]
    assert len(keys) == len(set(keys))
    for _, spec in specs:
        assert spec.help and spec.check.describe()


def test_json_file_round_trip(tmp_path):
    config = WanConfig(
        prompts={"0": "a forest", "max_f/2": "a castle --neg fog"},
        max_frames=200,
        fps=29.97,
        seed=5,
        flow_shift=4.5,
        style={"text": "watercolor"},
    )
    path = tmp_path / "settings.json"
    save_settings(config, path)
    loaded, report = load_settings(path)
    assert loaded == config and not report.lines()
    assert json.loads(path.read_text())["style_text"] == "watercolor"


def test_invalid_json_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"W": 832,,}')
    with pytest.raises(SettingsError, match=r"is not valid JSON: .* line 1"):
        load_settings(path)


# --- lossless round trip over generated settings ---------------------------------------------

# backticks hold expressions, which are checked (tests of their own); NUL is refused (a test of its
# own); any other text round-trips
PROMPT_TEXT = st.text(st.characters(blacklist_characters="`\x00"), max_size=30)
SCHEDULE_TEXTS = st.sampled_from(["0: (0)", "0:(0), 30:(5*sin(t/10))", '0:(1), "max_f-1":(2)', "5:(t%3)"])


@st.composite
def settings_dicts(draw):
    data = {
        "prompts": draw(st.dictionaries(st.integers(0, 500).map(str), PROMPT_TEXT, min_size=1)),
        "max_frames": draw(st.integers(1, 2000)),
        "fps": draw(st.sampled_from([8, 12.5, 15, 16, 24, 29.97, 30, 60])),
        "W": draw(st.integers(4, 128)) * 16,
        "H": draw(st.integers(4, 128)) * 16,
        "seed": draw(st.integers(-1, 2**32 - 1)),
        "seed_behavior": draw(st.sampled_from(SEED_BEHAVIORS)),
        "animation_mode": draw(st.sampled_from(["2D", "3D", "None"])),
        "translation_x": draw(SCHEDULE_TEXTS),
        "zoom": draw(
            st.sampled_from(["0: (1.0)", "0:(1), 30:(1.02+0.01*sin(t/10))", '0:(1.01), "max_f-1":(0.99)'])
        ),
        "model": draw(st.sampled_from(["vace-1.3b", "vace-14b", "t2v-1.3b", "t2v-14b"])),
        "clip_frames": draw(st.integers(1, 20)) * 4 + 1,
        "steps": draw(st.none() | st.integers(1, 200)),
        "guidance_scale": draw(st.none() | st.floats(0, 30)),
        "negative_prompts": draw(st.text(st.characters(blacklist_characters="\x00"), max_size=40)),
        "movement_sensitivity": draw(st.floats(0.1, 5)),
        "enhance_enabled": draw(st.booleans()),
        "interpolation_quality": draw(st.sampled_from(["fast", "balanced", "high_quality"])),
    }
    data["clip_overlap"] = draw(st.integers(0, data["clip_frames"] - 4))
    return data


@given(settings_dicts())
def test_json_round_trip_is_lossless(data):
    config, _ = config_from_dict(data)
    text = config.to_json()
    again, report = config_from_dict(json.loads(text))
    assert again == config
    assert again.to_dict() == config.to_dict()
    assert not report.lines()


def test_to_dict_lists_every_key_once():
    data = WanConfig().to_dict()
    assert set(data) == {spec.key for _, spec in all_specs()}
    for group, cls in GROUPS.items():
        assert all(spec.key.startswith(cls.PREFIX) for spec in cls.specs()), group


def test_an_fps_so_low_that_the_plan_would_explode_is_a_settings_error():
    # found by the API fuzzer: fps 5e-324 passed "above 0" and overflowed in the planner
    for fps, frames in ((5e-324, 81), (1, 100_000)):
        assert "raise fps or lower max_frames" in errors_of({"fps": fps, "max_frames": frames})["fps"]
    assert config_from_dict({"fps": 24, "max_frames": 100_000})[0].fps == 24


# --- what no setting holds ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [[1, 2], "gentle", 3, None])
def test_a_group_name_with_a_value_that_is_not_an_object_says_how_to_give_the_group(value):
    """d1b0a49 called it an unknown setting and suggested 'movement_mode'."""
    expected = (
        'movement: a settings group; give an object such as {"mode": "append"} or the flat keys movement_*'
    )
    assert errors_of({"movement": value})["movement"] == expected
    with pytest.raises(SettingsError, match="output: a settings group"):
        config_from_dict({}, {"output": "fast"})
    # a group whose name is also a setting's key takes a plain value for that setting
    assert config_from_dict({"weights": "bf16"})[0].to_dict()["weights"] == "bf16"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_frames", "\u0663\u0660"),  # Arabic-Indic digits: Python's int() reads 30
        ("fps", "\uff12\uff14"),  # full-width digits
        ("steps", "1_0"),  # int() reads 10
        ("guidance_scale", "1_5.5"),  # float() reads 15.5
    ],
)
def test_numbers_given_as_text_are_plain_ascii_decimals(key, value):
    """d1b0a49 read numbers given as text with int() and float(), which take all of these."""
    assert "must be" in errors_of({key: value})[key]


def test_numbers_as_plain_text_still_read():
    """A whole number may be written as "12.0" or "1e1" (d1b0a49 refused "1e1")."""
    config, _ = config_from_dict(
        {"max_frames": " 30 ", "fps": "24.0", "steps": "1e1", "guidance_scale": "-0"}
    )
    assert (config.max_frames, config.fps, config.steps, config.guidance_scale) == (30, 24.0, 10, 0.0)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"prompts": {"0": "a\x00fox"}}, "prompts"),
        ({"prompts": {"0\x00": "a fox"}}, "prompts"),
        ({"negative_prompts": "a\x00"}, "negative_prompts"),
        ({"style_text": "oil\x00"}, "style_text"),
    ],
)
def test_nul_characters_are_refused(data, key):
    """d1b0a49 took NUL characters into prompts and texts (C libraries cut text there)."""
    assert "without NUL characters" in errors_of(data)[key]


def test_a_settings_object_has_a_bounded_number_of_keys_and_shows_a_long_key_cut():
    """100,000 unknown keys took 40 s of fuzzy matching in d1b0a49, and every key came back."""
    errors = errors_of({f"key{i}": 1 for i in range(2001)})
    assert errors == {"settings": "settings: has 2001 keys; a settings object has at most 2000"}
    nested = errors_of({"movement": {f"k{i}": 1 for i in range(1999)}, "max_frames": 17, "fps": 16})
    assert "has 2002 keys" in nested["settings"]
    long_key = "x" * 100_000
    with pytest.raises(SettingsError) as caught:
        config_from_dict({long_key: 1})
    (error,) = caught.value.errors
    assert error.to_dict()["field"] == "x" * 197 + "..." and len(str(caught.value)) < 400


def test_only_the_first_unknown_keys_get_a_suggestion():
    errors = errors_of({f"guidence_scale{i}": 1 for i in range(30)})
    suggested = [message for message in errors.values() if "did you mean" in message]
    assert len(errors) == 30 and len(suggested) == 20
