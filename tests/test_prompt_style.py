"""The style system: blend modes, strength in words, the style schedule, and the plan's prompts."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wan.config import SettingsError, StyleOptions, config_from_dict
from wan.plan import GenerationPlan, create_plan
from wan.prompts.style import apply_style, clip_styles, style_of_frames
from wan.schedules import StyleScheduleError, parse_style_schedule

PROMPT = "a photograph of a misty forest, golden hour"


def test_blend_adds_every_style_term_after_the_prompt():
    prompt, added = apply_style(PROMPT, "oil painting, warm light", mode="blend")
    assert prompt == f"{PROMPT}, oil painting, warm light"
    assert added == "oil painting, warm light"


def test_overwrite_replaces_the_prompts_medium_but_keeps_its_subject():
    prompt, _ = apply_style(PROMPT + ", anime", "oil painting, warm light", mode="overwrite")
    assert prompt == "a misty forest, golden hour, oil painting, warm light"


def test_overwrite_without_a_style_medium_keeps_the_prompt():
    prompt, _ = apply_style(PROMPT, "warm light", mode="overwrite")
    assert prompt == f"{PROMPT}, warm light"


def test_adaptive_skips_what_the_prompt_implies_and_conflicting_mediums():
    prompt, added = apply_style(
        PROMPT, "photorealistic, oil painting, warm light, soft focus", mode="adaptive"
    )
    # photorealistic: implied by "photograph"; oil painting: contradicts it; warm light: golden hour
    assert added == "soft focus"
    assert prompt == f"{PROMPT}, soft focus"


def test_adaptive_skips_terms_whose_words_are_all_in_the_prompt():
    _, added = apply_style("misty forests at dawn", "misty forest, cinematic", mode="adaptive")
    assert added == "cinematic"


@pytest.mark.parametrize(
    ("strength", "expected"),
    [
        (1.0, "watercolor, soft light"),
        (0.67, "watercolor, soft light"),
        (0.5, "with touches of watercolor, soft light"),
        (0.2, "with a faint hint of watercolor, soft light"),
        (0.0, ""),
    ],
)
def test_strength_is_said_in_words(strength, expected):
    prompt, added = apply_style("a fox", "watercolor, soft light", strength=strength)
    assert added == expected
    assert prompt == ("a fox" if not expected else f"a fox, {expected}")


def test_an_empty_prompt_gets_only_the_style():
    assert apply_style("", "watercolor")[0] == "watercolor"


def test_unknown_blend_mode_is_refused():
    with pytest.raises(ValueError, match="blend mode must be one of overwrite, blend, adaptive"):
        apply_style("a fox", "ink", mode="mix")
    with pytest.raises(SettingsError, match="style_blend_mode"):
        StyleOptions(blend_mode="mix")


def test_schedule_in_deforum_keyframe_syntax():
    keyframes = parse_style_schedule('0:(watercolor, soft light), 10:("oil painting"), max_f-2:(ink)', 20)
    assert keyframes == ((0, "watercolor, soft light"), (10, "oil painting"), (17, "ink"))  # max_f = 19


def test_schedule_as_json_object():
    assert parse_style_schedule('{"0": "watercolor", "5": "ink"}', 10) == ((0, "watercolor"), (5, "ink"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("watercolor", "needs a ':'"),
        ("x:(ink)", "frame 'x'"),
        ("-5:(ink)", "negative"),
        ('{"0": 3}', "map frames to style texts"),
        ('{"0": ', "not valid JSON"),
    ],
)
def test_bad_schedules_name_the_problem(text, message):
    with pytest.raises(StyleScheduleError, match=message):
        parse_style_schedule(text, 20)


def test_create_style_schedule_holds_each_style_until_the_next_keyframe():
    style = StyleOptions(text="base", schedule="4:(watercolor), 8:(ink)")
    frames = style_of_frames(style, 10)
    assert frames == ["watercolor"] * 8 + ["ink"] * 2  # the first keyframe also covers frames before it
    assert style_of_frames(StyleOptions(text="base"), 3) == ["base"] * 3


def test_temporal_consistency_keeps_a_clips_style_from_its_first_frame():
    style = StyleOptions(schedule="0:(watercolor), 6:(ink)")
    windows = [(0, 8), (8, 16)]
    assert clip_styles(style, windows, 16) == ["watercolor", "ink"]
    loose = StyleOptions(schedule="0:(watercolor), 3:(ink)", temporal_consistency=False)
    assert clip_styles(loose, windows, 16) == ["ink", "ink"]  # ink covers most of the first clip


@given(
    keyframes=st.dictionaries(st.integers(0, 200), st.sampled_from(["ink", "oil", "watercolor"]), min_size=1),
    frames=st.integers(1, 250),
)
def test_every_frame_has_the_style_of_the_last_keyframe_at_or_before_it(keyframes, frames):
    text = ", ".join(f"{frame}:({style})" for frame, style in keyframes.items())
    styles = style_of_frames(StyleOptions(schedule=text), frames)
    assert len(styles) == frames
    ordered = sorted(keyframes.items())
    for frame in range(frames):
        earlier = [style for key, style in ordered if key <= frame]
        assert styles[frame] == (earlier[-1] if earlier else ordered[0][1])


def test_config_checks_the_style_schedule():
    with pytest.raises(SettingsError, match="style_schedule"):
        config_from_dict({"style_schedule": "watercolor"})
    config, _ = config_from_dict({"style_schedule": "0:(ink)", "style_temporal_consistency": False})
    assert config.style.schedule == "0:(ink)"
    assert config.style.temporal_consistency is False


def test_the_plan_carries_base_prompt_style_movement_and_final_prompt():
    config, _ = config_from_dict(
        {
            "prompts": {"0": "a misty forest", "32": "a castle at dawn"},
            "max_frames": 64,
            "fps": 16,
            "animation_mode": "3D",
            "translation_x": "0:(3)",
            "style_schedule": "0:(watercolor), 32:(oil painting)",
            "style_blend_mode": "blend",
        }
    )
    plan = create_plan(config, seed=1)
    first, last = plan.clips[0], plan.clips[-1]
    assert first.base_prompt == "a misty forest"
    assert first.style == "watercolor"
    assert last.style == "oil painting"
    assert "panning right" in first.movement_phrase
    assert first.prompt == f"a misty forest, watercolor, {first.movement_phrase}"
    assert GenerationPlan.from_dict(plan.to_dict()) == plan


def test_plans_written_before_styles_existed_still_load():
    config, _ = config_from_dict({"prompts": {"0": "a fox"}, "max_frames": 16})
    data = create_plan(config, seed=1).to_dict()
    for clip in data["clips"]:
        for key in ("style", "movement_phrase", "enhancement"):
            del clip[key]
    assert GenerationPlan.from_dict(data).clips[0].style == ""


def test_movement_mode_off_leaves_no_phrase():
    config, _ = config_from_dict({"prompts": {"0": "a fox"}, "max_frames": 32, "movement_mode": "off"})
    clip = create_plan(config, seed=1).clips[0]
    assert clip.movement_phrase == ""
    assert clip.prompt == "a fox"
