"""Movement analysis: directions per mode, intensity, duration, patterns, shake, properties."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from wan.catalog import shake_presets
from wan.config import WanConfig, config_from_dict, load_settings
from wan.movement import CHANNELS, analyze_window
from wan.movement.shake import looped_catmull_rom, shake_pose, shake_velocities
from wan.movement.tracks import INTENSITIES
from wan.plan import camera_path, movement_by_prompt

ROOT = Path(__file__).parent.parent


def analyse(sensitivity: float = 1.0, max_phrases: int = 2, **settings):
    settings = {"max_frames": 96, "fps": 16, "seed": 1, **settings}
    settings["movement"] = {"sensitivity": sensitivity, "max_phrases": max_phrases}
    config = WanConfig(**settings)
    return analyze_window(
        camera_path(config), 0, config.max_frames, sensitivity=sensitivity, max_phrases=max_phrases
    )


@pytest.mark.parametrize(
    ("mode", "schedule", "value", "kind", "words"),
    [
        ("3D", "translation_x", "2", "pan", "panning right"),
        ("3D", "translation_x", "-2", "pan", "panning left"),
        ("3D", "translation_y", "2", "pedestal", "moving up"),
        ("3D", "translation_y", "-2", "pedestal", "moving down"),
        ("3D", "translation_z", "1", "dolly", "dolly forward"),
        ("3D", "translation_z", "-1", "dolly", "dolly backward"),
        ("3D", "rotation_3d_x", "0.4", "tilt", "tilting up"),
        ("3D", "rotation_3d_x", "-0.4", "tilt", "tilting down"),
        ("3D", "rotation_3d_y", "0.4", "yaw", "rotating right"),
        ("3D", "rotation_3d_y", "-0.4", "yaw", "rotating left"),
        ("3D", "rotation_3d_z", "0.5", "roll", "rolling clockwise"),
        ("3D", "rotation_3d_z", "-0.5", "roll", "rolling counter-clockwise"),
        ("2D", "translation_x", "3", "pan", "panning left"),  # 2D moves the canvas
        ("2D", "translation_x", "-3", "pan", "panning right"),
        ("2D", "translation_y", "3", "pedestal", "moving up"),
        ("2D", "translation_y", "-3", "pedestal", "moving down"),
        ("2D", "zoom", "1.01", "dolly", "dolly forward"),
        ("2D", "zoom", "0.99", "dolly", "dolly backward"),
        ("2D", "angle", "0.5", "roll", "rolling clockwise"),
        ("2D", "angle", "-0.5", "roll", "rolling counter-clockwise"),
    ],
)
def test_direction_per_schedule_and_mode(mode, schedule, value, kind, words):
    result = analyse(animation_mode=mode, **{schedule: f"0:({value})"})
    (movement,) = result.movements
    assert movement.kind == kind and movement.schedules == (schedule,)
    assert words in movement.words and movement.duration == "sustained"
    assert result.description == f"camera movement with {movement.words}"


@pytest.mark.parametrize(
    ("mode", "schedule", "value"),
    [
        ("3D", "zoom", "1.05"),
        ("3D", "angle", "3"),
        ("2D", "translation_z", "5"),
        ("2D", "rotation_3d_y", "2"),
        ("None", "translation_x", "10"),
    ],
)
def test_channels_a_mode_ignores_do_not_move_the_camera(mode, schedule, value):
    assert analyse(animation_mode=mode, **{schedule: f"0:({value})"}).description == "static camera"


def test_a_steady_pan_is_not_a_static_camera():
    # schedules are velocities: a constant value is a constant movement
    assert analyse(translation_x="0:(5)").movements[0].kind == "pan"
    assert analyse().description == "static camera"


def test_intensity_grows_with_speed():
    words = [analyse(translation_x=f"0:({v})").movements[0].intensity for v in (0.5, 1.3, 4, 12)]
    assert words == list(INTENSITIES)
    assert analyse(translation_x="0:(0.05)").is_static  # below what can be seen in a clip


def test_duration_from_the_share_of_active_frames():
    brief = analyse(translation_x="0:(0), 9:(0), 10:(3), 30:(3), 31:(0)").movements[0]
    extended = analyse(translation_x="0:(0), 9:(0), 10:(3), 65:(3), 66:(0)").movements[0]
    sustained = analyse(translation_x="0:(3)").movements[0]
    assert [brief.duration, extended.duration, sustained.duration] == ["brief", "extended", "sustained"]


def test_sensitivity_scales_what_is_named():
    assert analyse(translation_x="0:(1.5)").movements[0].intensity == "gentle"
    assert analyse(translation_x="0:(1.5)", sensitivity=5).movements[0].intensity == "strong"
    assert analyse(translation_x="0:(1.5)", sensitivity=0.1).is_static


def test_movements_are_ordered_by_strength_and_at_most_n_named():
    result = analyse(translation_x="0:(6)", translation_y="0:(1)", rotation_3d_z="0:(0.1)", max_phrases=2)
    assert [m.kind for m in result.movements] == ["pan", "pedestal", "roll"]
    assert result.named == 2 and "rolling" not in result.description
    assert result.description.startswith("camera movement with moderate panning right (sustained) and")


def test_orbit():
    result = analyse(translation_x="0:(4)", rotation_3d_y="0:(-0.5)")
    (orbit,) = result.movements
    assert (orbit.kind, orbit.words) == ("orbit", "steady orbit to the right")
    assert (
        analyse(translation_x="0:(-4)", rotation_3d_y="0:(0.5)").movements[0].words
        == "steady orbit to the left"
    )
    # the same turn direction is a pan with a turn, not an orbit
    assert {m.kind for m in analyse(translation_x="0:(4)", rotation_3d_y="0:(0.5)").movements} == {
        "pan",
        "yaw",
    }


def test_spiral_in_3d_and_2d():
    assert (
        analyse(translation_z="0:(1)", rotation_3d_z="0:(0.3)").movements[0].words
        == "slow clockwise spiral forward"
    )
    spiral = analyse(animation_mode="2D", zoom="0:(0.99)", angle="0:(-1)").movements[0]
    assert spiral.kind == "spiral" and spiral.direction == "counter-clockwise backward"


def test_figure_eight_and_its_period_come_from_the_signal():
    result = analyse(
        max_frames=240, translation_x="0:(3*sin(2*pi*t/80))", translation_y="0:(3*sin(2*pi*t/40))"
    )
    (figure,) = result.movements
    assert figure.kind == "figure_eight" and figure.direction == "horizontal"
    assert figure.period_seconds == pytest.approx(80 / 16, rel=0.05)
    vertical = analyse(max_frames=240, translation_x="0:(3*sin(t/5))", translation_y="0:(3*sin(t/10))")
    assert vertical.movements[0].direction == "vertical"


def test_pendulum_and_zigzag():
    pendulum = analyse(max_frames=160, rotation_3d_z="0:(2*cos(2*pi*t/32))").movements[0]
    assert pendulum.kind == "pendulum" and pendulum.period_seconds == pytest.approx(2.0, rel=0.05)
    assert pendulum.words.endswith("pendulum rock side to side (period 2.0 s)")
    zigzag = analyse(max_frames=160, translation_x="0:(where(t%40<20, 3, -3))").movements[0]
    assert zigzag.kind == "zigzag" and "zig-zag left and right (period 2.5 s)" in zigzag.words
    # one swing out and back is a sway without a period
    sway = analyse(translation_x="0:(3), 48:(3), 49:(-3)").movements[0]
    assert sway.kind == "sway" and sway.period_seconds is None


def test_shake_is_described_and_never_a_pan():
    result = analyse(shake={"name": "INVESTIGATION", "intensity": 1})
    assert result.is_static and result.shake is not None
    assert result.description == f"static camera with {result.shake.words}"
    moving = analyse(translation_z="0:(1)", shake={"name": "HANDYCAM_RUN"})
    assert moving.description.endswith(", with moderate handheld camera shake")
    assert analyse(shake={"name": "BIKE_ON_GRAVEL_2D", "intensity": 2}).shake.intensity == "strong"


def test_jitter_written_into_a_schedule_is_shake():
    result = analyse(translation_x="0:(0.4*sin(t*2.5))")
    assert result.is_static and result.shake is not None and "rapid" in result.shake.words


@given(
    name=st.sampled_from(list(shake_presets())),
    intensity=st.floats(0, 3),
    speed=st.floats(0, 3),
    mode=st.sampled_from(["2D", "3D"]),
    fps=st.sampled_from([8, 12, 15, 16, 24, 30, 60]),
)
def test_shake_alone_is_never_reported_as_a_movement(name, intensity, speed, mode, fps):
    result = analyse(
        max_frames=120,
        fps=fps,
        animation_mode=mode,
        shake={"name": name, "intensity": intensity, "speed": speed},
    )
    assert result.movements == ()


@given(
    mode=st.sampled_from(["2D", "3D", "None"]), fps=st.sampled_from([8, 16, 30]), frames=st.integers(1, 200)
)
def test_a_zero_schedule_is_a_static_camera(mode, fps, frames):
    zero = "0:(1)" if mode == "2D" else "0:(0)"
    result = analyse(animation_mode=mode, fps=fps, max_frames=frames, zoom=zero, translation_x="0:(0)")
    assert result.description == "static camera"


# --- mirror and scale properties -----------------------------------------------------------

MIRRORS = {
    # mirror -> (schedules negated per mode, words swapped)
    "horizontal": (
        {"3D": ("translation_x", "rotation_3d_y", "rotation_3d_z"), "2D": ("translation_x", "angle")},
        (("left", "right"), ("counter-clockwise", "clockwise")),
    ),
    "vertical": (
        {"3D": ("translation_y", "rotation_3d_x", "rotation_3d_z"), "2D": ("translation_y", "angle")},
        (("up", "down"), ("counter-clockwise", "clockwise")),
    ),
    "depth": ({"3D": ("translation_z",), "2D": ()}, (("forward", "backward"),)),
}
LINEAR = {mode: tuple(c.schedule for c in CHANNELS[mode] if c.schedule != "zoom") for mode in ("2D", "3D")}


SYMMETRIC = ("left and right", "up and down", "forward and backward", "in and out", "side to side")


def swap_words(text: str, pairs) -> str:
    """Swap direction words; the two-way spans of sways and pendulums have no direction."""
    kept = {f"@{i}@": span for i, span in enumerate(SYMMETRIC)}
    for mark, span in kept.items():
        text = text.replace(span, mark)
    mapping = {}
    for a, b in pairs:
        mapping[a], mapping[b] = b, a
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, mapping), key=len, reverse=True)) + r")\b")
    text = pattern.sub(lambda m: mapping[m.group(1)], text)
    for mark, span in kept.items():
        text = text.replace(mark, span)
    return text


@st.composite
def keyframed_motion(draw):
    mode = draw(st.sampled_from(["2D", "3D"]))
    channels = draw(st.sets(st.sampled_from(LINEAR[mode]), min_size=1, max_size=3))
    motion = {}
    for channel in channels:
        frames = sorted(draw(st.sets(st.integers(1, 95), max_size=4)))
        scale = 4.0 if channel.startswith("translation") else 0.6
        values = [draw(st.floats(-scale, scale).map(lambda v: round(v, 3))) for _ in range(len(frames) + 1)]
        motion[channel] = list(zip([0, *frames], values, strict=True))
    return mode, motion


def schedule_text(points, factor=1.0):
    return ", ".join(f"{frame}:({value * factor:.6f})" for frame, value in points)


@given(keyframed_motion(), st.sampled_from(list(MIRRORS)))
def test_mirroring_flips_the_direction_words_and_nothing_else(case, mirror):
    mode, motion = case
    negated, pairs = MIRRORS[mirror]
    assume(any(channel in negated[mode] for channel in motion))
    original = analyse(animation_mode=mode, **{c: schedule_text(p) for c, p in motion.items()})
    mirrored = analyse(
        animation_mode=mode,
        **{c: schedule_text(p, -1.0 if c in negated[mode] else 1.0) for c, p in motion.items()},
    )
    assert mirrored.description == swap_words(original.description, pairs)
    for a, b in zip(original.movements, mirrored.movements, strict=True):
        assert (a.kind, a.intensity, a.duration, a.strength) == (b.kind, b.intensity, b.duration, b.strength)
        assert b.direction == swap_words(a.direction, pairs)


@given(keyframed_motion(), st.sampled_from([2.0, 4.0, 8.0]))
def test_scaling_the_motion_up_never_lowers_the_intensity(case, factor):
    mode, motion = case
    before = analyse(animation_mode=mode, **{c: schedule_text(p) for c, p in motion.items()})
    after = analyse(animation_mode=mode, **{c: schedule_text(p, factor) for c, p in motion.items()})
    for movement in before.movements:
        # the same movement, or a pattern it became part of once a slower partner became visible
        (scaled,) = [m for m in after.movements if set(movement.schedules) <= set(m.schedules)]
        assert INTENSITIES.index(scaled.intensity) >= INTENSITIES.index(movement.intensity)
        if scaled.kind == movement.kind:
            assert scaled.direction == movement.direction and scaled.duration == movement.duration


def test_zoom_mirror_in_2d():
    forward = analyse(animation_mode="2D", zoom="0:(1.02), 50:(1.0)")
    backward = analyse(animation_mode="2D", zoom=f"0:({1 / 1.02:.12f}), 50:(1.0)")
    assert backward.description == swap_words(forward.description, (("forward", "backward"),))


# --- the mission's three examples -------------------------------------------------------------


def test_mission_examples_at_frames_0_43_106():
    config, _ = load_settings(ROOT / "examples" / "movement_examples.json")
    segments = movement_by_prompt(config)
    assert [(s.start_frame, s.description) for s in segments] == [
        (0, "camera movement with subtle panning left (sustained) and gentle tilting down (extended)"),
        (43, "camera movement with moderate panning right (brief) and subtle rotating left (sustained)"),
        (106, "camera movement with gentle dolly forward (extended) and subtle rolling clockwise (brief)"),
    ]


# --- shake resampling ------------------------------------------------------------------------


def test_looped_cubic_passes_through_samples_and_loops():
    samples = np.array([0.0, 1.0, 0.5, -1.0, 0.25])
    np.testing.assert_allclose(looped_catmull_rom(samples, np.arange(10.0)), np.tile(samples, 2))
    between = looped_catmull_rom(samples, np.array([0.5, 5.5]))
    assert between[0] == pytest.approx(between[1])  # position 5.5 is 0.5 of the next loop


def test_shake_speed_plays_faster_and_intensity_scales():
    times = np.linspace(0, 3, 50)
    double = shake_pose("INVESTIGATION", 1.0, 2.0, times)
    normal = shake_pose("INVESTIGATION", 1.0, 1.0, times * 2)
    strong = shake_pose("INVESTIGATION", 3.0, 1.0, times)
    single = shake_pose("INVESTIGATION", 1.0, 1.0, times)
    for key in double:
        np.testing.assert_allclose(double[key], normal[key])
        np.testing.assert_allclose(strong[key], 3 * single[key])


def test_shake_velocities_add_up_to_the_pose_change_in_deforum_units():
    frames, fps = 48, 24
    velocities = shake_velocities(
        "INVESTIGATION", 1.0, 1.0, frames=frames, fps=fps, mode="3D", width=832, height=480
    )
    pose = shake_pose("INVESTIGATION", 1.0, 1.0, np.array([-1.0, frames - 1.0]) / fps)
    travelled = velocities["translation_x"].sum()
    assert travelled == pytest.approx((pose["location.0"][1] - pose["location.0"][0]) * 200)
    assert np.degrees(pose["rotation_euler.2"][1] - pose["rotation_euler.2"][0]) == pytest.approx(
        velocities["rotation_3d_z"].sum()
    )
    flat = shake_velocities(
        "BIKE_ON_GRAVEL_2D", 1.0, 1.0, frames=frames, fps=fps, mode="2D", width=832, height=480
    )
    assert set(flat) == {"translation_x", "translation_y", "zoom", "angle"}
    np.testing.assert_allclose(flat["zoom"], 1.0)  # a 2D preset has no travel towards the scene


def test_shake_settings_import_from_deforum_files():
    config, report = config_from_dict(
        {"sampler": "x", "shake_name": "Investigation", "shake_intensity": 2, "enable_shakify": False}
    )
    assert config.shake.name == "None" and "enable_shakify is off" in report.notes[0]
    config, _ = config_from_dict({"shake_name": "Handycam Run", "shake_speed": 1.5})
    assert (config.shake.name, config.shake.speed) == ("HANDYCAM_RUN", 1.5)


# --- into the plan --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("append", "a road, camera movement with gentle dolly forward (sustained)"),
        ("prepend", "camera movement with gentle dolly forward (sustained), a road"),
        ("off", "a road"),
    ],
)
def test_movement_phrase_goes_into_each_clip_prompt(mode, expected):
    from wan.plan import GenerationPlan, create_plan

    config = WanConfig(prompts={"0": "a road"}, translation_z="0:(0.75)", seed=1, movement={"mode": mode})
    plan = create_plan(config)
    assert plan.clips[0].prompt == expected and plan.clips[0].base_prompt == "a road"
    data = json.loads(plan.to_json())
    assert data["clips"][0]["movement"]["movements"][0]["kind"] == "dolly"
    assert GenerationPlan.from_dict(data) == plan


def test_each_clip_gets_its_own_movement():
    from wan.plan import create_plan

    config, _ = load_settings(ROOT / "examples" / "movement_examples.json")
    plan = create_plan(config)
    assert [c.movement.description for c in plan.clips] == [s.description for s in movement_by_prompt(config)]
