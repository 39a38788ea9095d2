"""What determines a clip's frames (wan.plan.fingerprint), re-roll seeds, previews and prompts
kept across re-renders: pure planning, no torch."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wan.config import SettingsError, config_from_dict
from wan.plan import ClipPlan, GenerationPlan, adopted_prompts, create_plan, weight_frame
from wan.plan.fingerprint import (
    CLIP_FIELDS_IGNORED,
    PLAN_FIELDS_IGNORED,
    clip_fingerprints,
    clip_materials,
    model_files,
    what_changed,
)
from wan.render.options import config_factors

PROMPTS = {"0": "a misty forest", "40": "a stone path", "80": "an old castle", "120": "a lake at dusk"}


def config(**overrides):
    settings = {"prompts": PROMPTS, "max_frames": 160, "fps": 16, "seed": 11, "clip_frames": 33}
    return config_from_dict(settings | overrides)[0]


def fingerprints(**overrides):
    made = config(**overrides)
    return clip_fingerprints(create_plan(made), config_factors(made))


def first_difference(old, new):
    """The first index at which two lists differ (None when they are equal)."""
    for index, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            return index
    return None if len(old) == len(new) else min(len(old), len(new))


def changed_from(old, new):
    """The first index at which two runs' fingerprints differ, and whether every later one does."""
    first = first_difference(old, new)
    return first, all(a != b for a, b in zip(old[first or 0 :], new[first or 0 :], strict=False))


def test_a_later_prompt_changes_its_clips_and_those_after_them_only():
    base = fingerprints()
    plan = create_plan(config())
    edited = fingerprints(prompts=PROMPTS | {"80": "a ruined castle"})
    first = next(clip.index for clip in plan.clips if clip.prompt_frame == 80)
    assert first > 0 and changed_from(base, edited) == (first, True)


def test_the_first_prompt_changes_every_clip():
    assert changed_from(fingerprints(), fingerprints(prompts=PROMPTS | {"0": "a foggy forest"})) == (0, True)


@pytest.mark.parametrize(
    "post",
    [
        {"interpolation_method": "linear"},
        {"interpolation_enabled": False},
        {"interpolation_strength": 0.4},
        {"output_crf": 28},
        {"output_quality_checks": False},
        {"output_save_frames": False},
        {"memory_preset": "aggressive"},
        {"speed_attention": "native", "speed_compile": "off"},  # the same computation
    ],
)
def test_post_processing_and_lossless_settings_change_no_clip(post):
    assert fingerprints(**post) == fingerprints()


@pytest.mark.parametrize(
    "change",
    [{"steps": 20}, {"guidance_scale": 4.0}, {"flow_shift": 5.0}, {"W": 640}, {"speed_preset": "fast"}],
)
def test_generation_settings_change_every_clip(change):
    assert changed_from(fingerprints(), fingerprints(**change)) == (0, True)


def test_an_output_fps_that_needs_the_same_model_frames_changes_no_clip():
    # 17 frames at 16 fps and at 17 fps both need model frames 0-16: only the output changes
    still = {"prompts": {"0": "a fox"}, "max_frames": 17, "clip_frames": 17, "animation_mode": "None"}
    assert create_plan(config(**still, fps=17)).model_frames == create_plan(config(**still)).model_frames
    assert fingerprints(**still, fps=17) == fingerprints(**still)
    # the same animation at twice the frame rate (every keyframe doubled) needs the same model frames
    doubled = {str(int(k) * 2): v for k, v in PROMPTS.items()}
    assert fingerprints(fps=32, max_frames=319, prompts=doubled) == fingerprints()


def test_an_output_fps_that_needs_other_model_frames_changes_the_clips():
    # the prompts are keyed in output frames: at 24 fps every cut comes earlier
    base, faster = fingerprints(), fingerprints(fps=24)
    assert create_plan(config(fps=24)).model_frames != create_plan(config()).model_frames
    assert first_difference(base, faster) == 0


def test_movement_words_count_through_the_prompt_only():
    moving = fingerprints(translation_x="0:(4)")
    assert moving != fingerprints()  # the movement phrase is in the prompt the model gets
    assert fingerprints(translation_x="0:(4)", movement_mode="off") == fingerprints(movement_mode="off")


def test_every_field_outside_the_denylists_counts():
    plan = create_plan(config())
    factors = config_factors(config())
    base = clip_fingerprints(plan, factors)
    clip = plan.clips[2]
    for f in dataclasses.fields(ClipPlan):
        value = getattr(clip, f.name)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        other = value + 1 if isinstance(value, (int, float)) else value + " (changed)"
        if f.name == "conditioning":
            other = "text"
        changed = dataclasses.replace(
            plan, clips=(*plan.clips[:2], dataclasses.replace(clip, **{f.name: other}), *plan.clips[3:])
        )
        after = clip_fingerprints(changed, factors)
        if f.name in CLIP_FIELDS_IGNORED:
            assert after == base, f.name
        else:
            assert after[:2] == base[:2] and after[2] != base[2], f.name
    for f in dataclasses.fields(GenerationPlan):
        value = getattr(plan, f.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        after = clip_fingerprints(dataclasses.replace(plan, **{f.name: value + 1}), factors)
        assert (after == base) == (f.name in PLAN_FIELDS_IGNORED), f.name


def test_a_field_another_part_adds_to_the_plan_counts_without_being_listed():
    """A new ClipPlan field (say, a control video per clip) changes the fingerprint by itself."""
    plan = create_plan(config())
    WithControl = dataclasses.make_dataclass(
        "WithControl", [("control", tuple, dataclasses.field(default=()))], bases=(ClipPlan,), frozen=True
    )
    clips = [
        WithControl(**{f.name: getattr(c, f.name) for f in dataclasses.fields(ClipPlan)}) for c in plan.clips
    ]
    with_control = dataclasses.replace(plan, clips=tuple(clips))
    factors = config_factors(config())
    base = clip_fingerprints(with_control, factors)
    clips[1] = dataclasses.replace(clips[1], control=("depth.mp4", 0.8))
    after = clip_fingerprints(dataclasses.replace(plan, clips=tuple(clips)), factors)
    assert after[0] == base[0] and all(a != b for a, b in zip(after[1:], base[1:], strict=True))


def test_a_weights_file_counts_by_its_size_and_time(tmp_path):
    lora = tmp_path / "style.safetensors"
    lora.write_bytes(b"one")
    plan = create_plan(config())
    factors = config_factors(config()) | {"extra": str(lora)}
    before = clip_fingerprints(plan, factors)
    lora.write_bytes(b"other weights")
    assert clip_fingerprints(plan, factors) != before


def test_the_init_image_counts_by_its_content(tmp_path):
    from PIL import Image

    image = tmp_path / "start.png"
    Image.new("RGB", (64, 64), (200, 10, 10)).save(image)
    first = fingerprints(init_image=str(image))
    assert first == fingerprints(init_image=str(image))
    Image.new("RGB", (64, 64), (10, 200, 10)).save(image)
    assert changed_from(first, fingerprints(init_image=str(image))) == (0, True)


def test_clips_that_do_not_continue_one_another_change_alone():
    t2v = {"model": "t2v-1.3b", "output_color_coherence": False}
    base = fingerprints(**t2v)
    edited = fingerprints(**t2v, prompts=PROMPTS | {"40": "a wooden bridge"})
    plan = create_plan(config(**t2v))
    changed = [i for i, (a, b) in enumerate(zip(base, edited, strict=True)) if a != b]
    assert changed == [c.index for c in plan.clips if c.prompt_frame == 40]
    # with colour coherence every later clip is matched to the first one's colours
    coherent = fingerprints(model="t2v-1.3b")
    assert changed_from(coherent, fingerprints(model="t2v-1.3b", prompts=PROMPTS | {"0": "fog"})) == (0, True)


def test_what_changed_names_the_fields_and_the_clip_before():
    old = clip_materials(create_plan(config()), config_factors(config()))
    new_config = config(prompts=PROMPTS | {"80": "a ruined castle"})
    new = clip_materials(create_plan(new_config), config_factors(new_config))
    first = first_difference([str(m) for m in old], [str(m) for m in new])
    assert what_changed(old[first], new[first]) == ["prompt"]
    after = next(c.index for c in create_plan(new_config).clips if c.prompt_frame == 120)
    assert what_changed(old[after], new[after]) == ["the clip before it"]
    assert what_changed(
        old[0], clip_materials(create_plan(config(seed=12)), config_factors(config()))[0]
    ) == ["seed"]


# -- re-roll: a seed per clip ---------------------------------------------------------------------------


def test_clip_seeds_replace_single_clips_seeds_and_round_trip():
    plan = create_plan(config(clip_seeds={"2": 777}))
    base = create_plan(config())
    assert [c.seed for c in plan.clips] == [777 if c.index == 2 else c.seed for c in base.clips]
    made = config(clip_seeds={"2": 777})
    assert config_from_dict(made.to_dict())[0] == made and made.to_dict()["clip_seeds"] == {"2": 777}
    assert "clip_seeds names clip 99" in " ".join(create_plan(config(clip_seeds={"99": 1})).warnings)
    with pytest.raises(SettingsError, match="clip_seeds"):
        config(clip_seeds={"2": -5})


def test_a_reroll_changes_its_clip_and_the_ones_continuing_from_it():
    base = fingerprints()
    assert changed_from(base, fingerprints(clip_seeds={"3": 4242})) == (3, True)
    last = len(base) - 1
    rerolled = fingerprints(clip_seeds={str(last): 4242})
    assert rerolled[:last] == base[:last] and rerolled[last] != base[last]


@given(st.integers(0, 2**32 - 1))
def test_every_reroll_seed_lands_on_its_clip(seed):
    plan = create_plan(config(clip_seeds={"1": seed}))
    assert plan.clips[1].seed == seed


# -- preview ------------------------------------------------------------------------------------------------


def test_a_preview_keeps_clips_seeds_and_prompts_and_is_smaller_and_faster():
    full = create_plan(config(steps=30))
    preview = create_plan(config(steps=30, preview_enabled=True, preview_scale=0.5))
    assert (preview.width, preview.height, preview.steps) == (416, 240, 10)
    assert [(c.seed, c.prompt, c.num_frames) for c in preview.clips] == [
        (c.seed, c.prompt, c.num_frames) for c in full.clips
    ]
    assert any(w.startswith("preview: 416x240") for w in preview.warnings)
    assert create_plan(config(preview_enabled=True, preview_steps=6)).steps == 6
    tiny = create_plan(config(W=64, H=64, preview_enabled=True, preview_scale=0.1))
    assert (tiny.width, tiny.height) == (32, 32)


def test_a_distilled_preview_needs_the_lora_and_runs_without_guidance(tmp_path):
    with pytest.raises(SettingsError, match="preview_speed"):
        config(preview_enabled=True, preview_speed="distilled")
    lora = tmp_path / "distill.safetensors"
    lora.write_bytes(b"x")
    made = config(preview_enabled=True, preview_speed="distilled", speed_lora=str(lora))
    plan = create_plan(made)
    assert (plan.steps, plan.guidance_scale, plan.flow_shift) == (4, 1.0, 5.0)
    assert plan.timesteps == (1000, 750, 500, 250)  # its fixed step list
    assert made.preview.speed_of(made.speed).preset == "lightx2v"  # "distilled" is its older name
    assert config_factors(made)["speed"]["preset"] == "lightx2v"
    assert (
        config(speed_lora=str(lora), preview_speed="distilled").preview.speed_of(made.speed).preset
        == "quality"
    )


# -- prompts kept across re-renders ------------------------------------------------------------------------


def test_enhanced_prompts_are_kept_for_clips_whose_prompt_did_not_change_even_when_they_moved():
    stored = create_plan(config())
    enhanced = dataclasses.replace(
        stored,
        clips=tuple(
            dataclasses.replace(c, prompt=f"rich {c.index}", enhancement="enhanced") for c in stored.clips
        ),
    )
    # a new keyframe in the middle moves the later clips
    moved = create_plan(config(prompts=PROMPTS | {"60": "a bridge"}))
    adopted, missing = adopted_prompts(moved, enhanced)
    new_clips = [c.index for c in moved.clips if c.base_prompt.endswith("a bridge")]
    assert missing == new_clips
    for clip in adopted.clips:
        if clip.index not in missing:
            old = next(o for o in enhanced.clips if o.base_prompt == clip.base_prompt)
            assert clip.prompt.startswith("rich ") and clip.enhancement == "enhanced", (clip.index, old.index)


def test_loras_count_by_file_weight_at_each_clip_and_expert(tmp_path):
    """The loras setting reaches the fingerprint through each clip's LoRAs (wan.plan.loras) without
    being listed anywhere: the file (by size and time), its weight at each clip, the expert."""
    lora = tmp_path / "style.safetensors"
    lora.write_bytes(b"lora weights")

    def with_lora(weight=0.8, expert="both", **more):
        return fingerprints(loras=[{"file": str(lora), "weight": weight, "expert": expert}], **more)

    base = with_lora()
    assert changed_from(fingerprints(), base) == (0, True)
    assert changed_from(base, with_lora(0.5)) == (0, True)
    assert with_lora("0:(0.8)") == base  # the same weight at every clip (an adapter, not fused)
    lower = "0:(0.8), 119:(0.8), 120:(0.3)"  # from frame 120 on
    clips = create_plan(config(loras=[{"file": str(lora), "weight": lower}])).clips
    first = next(c.index for c in clips if weight_frame(c.start_frame, c.end_frame, 160) >= 120)
    assert first > 0 and changed_from(base, with_lora(lower)) == (first, True)
    two = {"model": "tiny-t2v-2experts", "W": 64, "H": 64}
    assert changed_from(with_lora(**two), with_lora(expert="low", **two)) == (0, True)
    lora.write_bytes(b"other lora weights")
    assert changed_from(base, with_lora()) == (0, True)


def test_a_local_model_folder_counts_by_its_files(tmp_path):
    """A pipeline folder's model_index.json says whether it has two experts and where they part;
    its files count by size and time (a registry model is what its id says)."""
    folder = tmp_path / "my-wan22"
    (folder / "transformer").mkdir(parents=True)
    index = {
        "_class_name": "WanPipeline",
        "transformer": ["diffusers", "WanTransformer3DModel"],
        "transformer_2": ["diffusers", "WanTransformer3DModel"],
        "boundary_ratio": 0.875,
    }
    (folder / "model_index.json").write_text(json.dumps(index))
    (folder / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"weights")
    local = {"model": str(folder), "W": 832, "H": 480}
    base = fingerprints(**local)
    assert base == fingerprints(**local) and model_files("t2v-1.3b") is None
    old = clip_materials(create_plan(config(**local)), config_factors(config(**local)))
    (folder / "model_index.json").write_text(json.dumps(index | {"boundary_ratio": 0.9}))
    assert changed_from(base, fingerprints(**local)) == (0, True)
    new = clip_materials(create_plan(config(**local)), config_factors(config(**local)))
    assert what_changed(old[0], new[0]) == ["model files"]


def test_weights_count_as_the_format_auto_picked():
    """A render records the format `auto` loaded (the GPU decides it); a config that still says
    auto stands for what that take picked, one that names a format for that format."""
    picked = config_factors(config()) | {"weights": "nf4"}
    assert config_factors(config())["weights"] == "auto"
    assert config_factors(config(), picked)["weights"] == "nf4"
    assert config_factors(config(weights="bf16"), picked)["weights"] == "bf16"
    assert fingerprints(weights="fp8") != fingerprints()
