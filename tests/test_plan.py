"""The clip planner: exact tiling, 4n+1, maximum length, prompt schedule, conditioning, JSON."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wan.catalog import MODELS
from wan.config import WanConfig, load_settings
from wan.plan import GenerationPlan, create_plan
from wan.schedules import PromptSchedule
from wan.timebase import Timebase

EXAMPLE = Path(__file__).parent.parent / "examples" / "deforum_settings.txt"


@st.composite
def configs(draw):
    max_frames = draw(st.integers(1, 1500))
    keys = draw(st.sets(st.integers(0, max_frames + 20), min_size=1, max_size=12))
    model = draw(
        st.sampled_from(["vace-1.3b", "vace-1.3b", "t2v-1.3b", "ti2v-5b", "t2v-a14b", "vace-fun-a14b"])
    )
    spec = MODELS[model]
    # an I2V model continues a T2V one at the same frame rate (TI2V-5B continues itself)
    i2v = draw(st.sampled_from(["", "", "i2v-14b-480p", "i2v-a14b"])) if spec.native_fps == 16 else ""
    longest = min(spec.max_frames, MODELS[i2v].max_frames if i2v else spec.max_frames)
    clip_frames = draw(st.one_of(st.none(), st.integers(1, (longest - 1) // 4).map(lambda n: 4 * n + 1)))
    return WanConfig(
        prompts={str(k): f"prompt {k}" for k in sorted(keys)},
        max_frames=max_frames,
        fps=draw(st.sampled_from([5, 8, 12, 15, 16, 23.976, 24, 25, 29.97, 30, 50, 60])),
        clip_frames=clip_frames,
        clip_overlap=draw(st.integers(0, (clip_frames or longest) - 4)),
        model=model,
        i2v_model=i2v,
        seed=draw(st.integers(0, 2**32 - 1)),
        seed_behavior=draw(st.sampled_from(["iter", "fixed", "random", "ladder", "alternate", "schedule"])),
    )


def check_invariants(config: WanConfig, plan: GenerationPlan) -> None:
    spec = config.model_spec
    timebase = Timebase.of(config.fps, spec.native_fps)
    assert plan.model_fps == spec.native_fps
    clips = plan.clips
    # model frames: the new frames of the clips tile [0, model_frames) exactly once
    exact_ratio = Fraction(spec.native_fps) / Fraction(str(config.fps))
    assert plan.model_frames == math.ceil((config.max_frames - 1) * exact_ratio) + 1
    assert clips[0].model_start_frame == 0 and clips[-1].model_end_frame == plan.model_frames
    for before, after in pairwise(clips):
        assert before.model_end_frame == after.model_start_frame
    # output frames: the ranges tile [0, max_frames) exactly once
    assert clips[0].start_frame == 0 and clips[-1].end_frame == config.max_frames
    for before, after in pairwise(clips):
        assert before.end_frame == after.start_frame
    covered = [f for clip in clips for f in range(clip.start_frame, clip.end_frame)]
    assert covered == list(range(config.max_frames))
    # clip_frames: the setting, else the longest clip every model of the run makes
    assert plan.clip_frames == (config.clip_frames or min(s.max_frames for s in (spec, config.i2v_spec) if s))
    for index, clip in enumerate(clips):
        assert clip.index == index
        # 4n+1 frames, at most clip_frames and the model's maximum, made of overlap + new + trim
        assert (
            clip.num_frames % 4 == 1 and clip.num_frames <= plan.clip_frames <= MODELS[clip.model].max_frames
        )
        assert clip.num_frames == clip.overlap_frames + clip.new_frames + clip.trim_frames
        assert 0 <= clip.trim_frames <= 3 and clip.new_frames >= 1
        # a clip never conditions on frames that do not exist yet
        assert clip.overlap_frames <= clip.model_start_frame
        assert (clip.conditioning == "previous_clip") == (clip.overlap_frames > 0)
        assert 0 <= clip.seed < 2**32
        # each output frame of the clip lies in the clip's model range (time-wise)
        if clip.end_frame > clip.start_frame:
            assert timebase.model_position(clip.start_frame) >= clip.model_start_frame
            assert timebase.model_position(clip.end_frame - 1) < clip.model_end_frame
    # trim only where the next clip starts a new prompt (or at the very end)
    for before, after in pairwise(clips):
        if before.trim_frames:
            assert before.prompt_frame != after.prompt_frame


def check_follows_prompt_schedule(config: WanConfig, plan: GenerationPlan) -> None:
    schedule = PromptSchedule(
        config.prompts, config.max_frames, positive=config.positive_prompt, negative=config.negative_prompt
    )
    timebase = Timebase.of(config.fps, config.model_spec.native_fps)
    merged = any("previous prompt continues" in w or "next prompt starts" in w for w in plan.warnings)
    for clip in plan.clips:
        keyframe = schedule.keyframe_at(clip.start_frame)
        assert clip.base_prompt == schedule.render(schedule.keyframe_at(clip.prompt_frame), 0)[0]
        if not merged:
            # the clip shows the prompt of its start frame, or of a keyframe less than one model
            # frame earlier (when the output fps is above the model's, see README)
            assert clip.prompt_frame == keyframe.frame or (
                timebase.model_position(keyframe.frame) > clip.model_start_frame - 1
            )
    if not merged:
        cuts = {clip.model_start_frame for clip in plan.clips}
        for keyframe in schedule.keyframes[1:]:
            cut = timebase.first_model_frame_at_or_after(keyframe.frame)
            if cut < plan.model_frames:
                assert cut in cuts, f"no clip starts at the prompt keyframe {keyframe.frame}"


@given(configs())
def test_plan_invariants(config):
    plan = create_plan(config)
    check_invariants(config, plan)
    check_follows_prompt_schedule(config, plan)


@given(configs())
def test_plans_are_deterministic_and_round_trip_through_json(config):
    plan = create_plan(config)
    assert create_plan(config) == plan
    assert GenerationPlan.from_dict(json.loads(plan.to_json())) == plan


def test_one_clip_at_native_fps():
    plan = create_plan(WanConfig(max_frames=81, fps=16, seed=1))
    (clip,) = plan.clips
    assert (clip.start_frame, clip.end_frame, clip.num_frames, clip.trim_frames) == (0, 81, 81, 0)
    assert clip.conditioning == "text" and plan.model_frames == 81


def test_cuts_land_on_prompt_keyframes_at_native_fps():
    config = WanConfig(
        prompts={"0": "a forest", "30": "a castle", "100": "a sea"}, max_frames=160, fps=16, seed=3
    )
    plan = create_plan(config)
    assert [c.start_frame for c in plan.clips] == [0, 30, 100]
    assert [c.num_frames for c in plan.clips] == [33, 77, 65]
    assert [c.trim_frames for c in plan.clips] == [3, 2, 0]
    assert [c.base_prompt for c in plan.clips] == ["a forest", "a castle", "a sea"]
    assert [c.prompt for c in plan.clips] == [
        f"{p}, static camera" for p in ("a forest", "a castle", "a sea")
    ]


def test_long_segments_split_into_balanced_clips():
    plan = create_plan(WanConfig(prompts={"0": "a long flight"}, max_frames=400, fps=16, seed=1))
    assert len(plan.clips) == 6
    lengths = [c.new_frames for c in plan.clips]
    assert max(lengths) - min(lengths) <= 8 and sum(lengths) == 400
    assert all(c.trim_frames == 0 for c in plan.clips[:-1])


def test_prompt_too_short_is_merged_with_a_warning():
    config = WanConfig(prompts={"0": "a", "40": "flash", "42": "b"}, max_frames=100, fps=16, seed=1)
    plan = create_plan(config)
    assert [c.base_prompt for c in plan.clips] == ["a", "b"]
    assert plan.clips[1].start_frame == 42
    assert any("'40'" in w and "previous prompt continues" in w for w in plan.warnings)


def test_output_fps_maps_to_model_frames_by_time():
    plan = create_plan(WanConfig(prompts={"0": "a", "60": "b"}, max_frames=120, fps=15, seed=1))
    assert plan.model_frames == 128  # 8 s at 16 fps
    assert plan.clips[1].start_frame == 60 and plan.clips[1].model_start_frame == 64


def test_vace_chains_with_overlap():
    plan = create_plan(WanConfig(max_frames=200, fps=16, clip_overlap=8, seed=1))
    assert [c.conditioning for c in plan.clips] == ["text", "previous_clip", "previous_clip"]
    assert [c.overlap_frames for c in plan.clips] == [0, 8, 8]
    assert plan.clip_overlap == 8 and {c.model for c in plan.clips} == {"vace-1.3b"}


def test_t2v_alone_cannot_chain():
    plan = create_plan(WanConfig(model="t2v-1.3b", max_frames=200, fps=16, seed=1))
    assert {c.conditioning for c in plan.clips} == {"text"}
    assert any("starts afresh" in w for w in plan.warnings)


def test_t2v_with_i2v_continues_from_the_last_frame():
    plan = create_plan(WanConfig(model="t2v-14b", i2v_model="i2v-14b-480p", max_frames=200, fps=16, seed=1))
    assert [c.model for c in plan.clips] == ["t2v-14b", "i2v-14b-480p", "i2v-14b-480p"]
    assert [c.overlap_frames for c in plan.clips] == [0, 1, 1]
    assert any("clip_overlap 5 is used as 1" in w for w in plan.warnings)


def test_init_image_conditions_the_first_clip(tmp_path):
    image = tmp_path / "start.png"
    image.write_bytes(b"\x89PNG")
    plan = create_plan(WanConfig(init_image=str(image), max_frames=100, fps=16, seed=1))
    assert plan.clips[0].conditioning == "init_image" and plan.init_image == str(image)
    plan = create_plan(WanConfig(model="t2v-1.3b", init_image=str(image), seed=1))
    assert plan.clips[0].conditioning == "text" and plan.init_image == ""
    assert any("cannot start from an image" in w for w in plan.warnings)


def test_model_defaults_are_resolved_into_the_plan():
    plan = create_plan(WanConfig(seed=1))
    assert (plan.steps, plan.guidance_scale, plan.flow_shift) == (50, 5.0, 3.0)
    plan = create_plan(WanConfig(model="vace-14b", width=1280, height=720, steps=20, seed=1))
    assert (plan.steps, plan.flow_shift) == (20, 5.0)
    plan = create_plan(WanConfig(width=512, height=512, seed=1))
    assert any("512x512 is not a size" in w for w in plan.warnings)
    assert not create_plan(WanConfig(width=480, height=832, seed=1)).warnings  # portrait


def test_random_seed_is_resolved_and_recorded():
    config = WanConfig(seed=-1)
    assert create_plan(config, seed=77).seed == 77
    assert 0 <= create_plan(config).seed < 2**32


@pytest.mark.parametrize(
    ("behavior", "expected"),
    [
        ("iter", [10, 11, 12, 13, 14, 15]),
        ("fixed", [10] * 6),
        ("ladder", [10, 12, 11, 13, 12, 14]),
        ("alternate", [10, 11, 10, 11, 10, 11]),
    ],
)
def test_seed_behaviours_per_clip(behavior, expected):
    config = WanConfig(max_frames=400, fps=16, seed=10, seed_behavior=behavior)
    assert [c.seed for c in create_plan(config).clips] == expected


def test_seed_schedule_behaviour():
    config = WanConfig(
        max_frames=180,
        fps=16,
        seed=5,
        seed_behavior="schedule",
        seed_schedule="0:(s), 60:(-1), 120:(1234)",
        prompts={"0": "a", "60": "b", "120": "c"},
    )
    seeds = [c.seed for c in create_plan(config).clips]
    assert [c.start_frame for c in create_plan(config).clips] == [0, 60, 120]
    assert seeds[0] == 5 and seeds[2] == 1234 and seeds[1] not in (5, 1234, 2**32 - 1)
    assert seeds == [c.seed for c in create_plan(config).clips]


def test_deforum_example_plans():
    config, _ = load_settings(EXAMPLE)
    plan = create_plan(config)
    check_invariants(config, plan)
    assert [c.start_frame for c in plan.clips] == [0, 48, 96, 144]
    assert plan.clips[2].base_prompt.startswith("cinematic, highly detailed, an ancient castle")
    assert "lora" not in plan.clips[3].prompt


def test_ten_thousand_frames_fifty_prompts():
    prompts = {str(i * 200): f"scene {i}" for i in range(50)}
    config = WanConfig(
        prompts=prompts,
        max_frames=10_000,
        fps=24,
        seed=1,
        translation_x="0:(5*sin(t/30)), 5000:(0)",
        zoom="0:(1.002)",
    )
    plan = create_plan(config)
    check_invariants(config, plan)
    check_follows_prompt_schedule(config, plan)
    assert len({c.base_prompt for c in plan.clips}) == 50


def test_plan_from_dict_rejects_other_data():
    with pytest.raises(ValueError, match="plan version"):
        GenerationPlan.from_dict({"version": 99})
    with pytest.raises(ValueError, match="not a generation plan"):
        GenerationPlan.from_dict({"version": 1, "clips": []})
