"""Frame interpolation: exact sample times and frame counts, streaming, the linear and optical-flow
methods on synthetic video with known motion, and the render's output stage."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wan.config import InterpolationOptions, SettingsError, WanConfig
from wan.plan import create_plan
from wan.post.interpolation import (
    FlowInterpolator,
    LinearInterpolator,
    build_interpolator,
    interpolate_frames,
)
from wan.post.resample import (
    nearest_model_frames,
    output_frame_count,
    output_joins,
    output_samples,
    plan_samples,
)
from wan.post.synthetic import panning_video, square_centre, square_frame
from wan.render.options import RenderOptions, frame_factors
from wan.render.output import write_output
from wan.render.run_folder import RunFolder, read_png, write_png
from wan.timebase import Timebase

FPS = st.sampled_from([8, 10, 12, 12.5, 15, 16, 23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60, 120])


class Recording:
    """An interpolator that remembers its calls and returns marked frames."""

    name = "recording"

    def __init__(self):
        self.calls: list[tuple[int, list[float]]] = []

    def interpolate(self, first, second, times):
        self.calls.append((int(first[0, 0, 0]), list(times)))
        return [np.full_like(first, 255) for _ in times]


def numbered(count: int) -> list[np.ndarray]:
    return [np.full((2, 2, 3), i, np.uint8) for i in range(count)]


# -- times and counts --------------------------------------------------------------------------


@pytest.mark.parametrize(("fps", "expected"), [(24, 49), (30, 61), (60, 121)])
def test_exact_output_counts_from_33_frames_at_16_fps(fps, expected):
    assert output_frame_count(33, fps, 16) == expected == (32 * fps) // 16 + 1
    frames = list(interpolate_frames(numbered(33), output_samples(fps, 16), LinearInterpolator()))
    assert len(frames) == expected


@given(FPS, FPS, st.integers(1, 400), st.floats(0, 1))
def test_count_rule_and_positions(fps_out, fps_in, frames, strength):
    count = output_frame_count(frames, fps_out, fps_in)
    ratio = Fraction(str(fps_in)) / Fraction(str(fps_out))
    assert count == math.floor((frames - 1) / ratio) + 1
    samples = plan_samples(count + 1, fps_out, fps_in, strength)
    assert all(s.position == s.index * ratio for s in samples)
    assert samples[count - 1].position <= frames - 1 < samples[count].position
    assert all(0 <= s.t < 1 and s.frame + s.t <= frames - 1 + 1e-9 for s in samples[:count])
    times = [s.time for s in samples]
    assert times == sorted(times)


@given(FPS, FPS, st.integers(1, 300))
def test_strength_zero_is_the_nearest_frame_and_one_the_exact_time(fps_out, fps_in, count):
    held = plan_samples(count, fps_out, fps_in, 0.0)
    assert all(s.t == 0 for s in held)
    assert [s.frame for s in held] == nearest_model_frames(count, fps_out, fps_in).tolist()
    full = plan_samples(count, fps_out, fps_in, 1.0)
    assert all(s.frame + Fraction(s.t) == pytest.approx(float(s.position), abs=1e-12) for s in full)


def test_strength_pulls_towards_the_nearest_frame():
    # 16 -> 24 fps: positions 0, 2/3, 4/3, 2; strength 0.5 halves the distance to the nearest frame
    samples = plan_samples(4, 24, 16, 0.5)
    assert [(s.frame, s.t) for s in samples] == [
        (0, 0.0),
        (0, pytest.approx(5 / 6)),
        (1, pytest.approx(1 / 6)),
        (2, 0.0),
    ]


@given(FPS, st.integers(1, 2000))
def test_a_plan_has_model_frames_for_all_its_output_frames(fps, output_frames):
    timebase = Timebase.of(fps, 16)
    assert timebase.output_frames_within(timebase.model_frames_for(output_frames)) >= output_frames


def test_output_joins_follow_the_picture_not_the_clock():
    held = [float(s) for s in nearest_model_frames(12, 24, 16)]  # 0 1 1 2 3 3 4 5 5 6 7 7
    assert output_joins(held, [3, 5]) == [4, 7]
    smooth = [s.time for s in plan_samples(12, 24, 16, 1.0)]  # 0 .67 1.33 2 2.67 3.33 ...
    assert output_joins(smooth, [3, 5]) == [4, 7]


# -- streaming -----------------------------------------------------------------------------------


def test_in_betweens_of_a_pair_come_in_one_call_and_frames_stream():
    read: list[int] = []

    def source():
        for i, frame in enumerate(numbered(9)):
            read.append(i)
            yield frame

    recording = Recording()
    produced = []
    for j, frame in enumerate(interpolate_frames(source(), output_samples(60, 16), recording)):
        produced.append(frame)
        # never more than the frame after the current output's time has been read
        assert read[-1] <= math.ceil(j * 16 / 60) + 1
    assert len(produced) == output_frame_count(9, 60, 16) == 31
    assert [first for first, _ in recording.calls] == list(range(8))
    # positions j * 4/15: frames 0, 4 and 8 are exact, 3.75 in-betweens per pair on average
    assert [len(times) for _, times in recording.calls] == [3, 4, 4, 3, 3, 4, 4, 3]
    assert recording.calls[0][1] == pytest.approx([4 / 15, 8 / 15, 12 / 15])


def test_frames_at_exact_times_are_the_input_frames():
    frames = list(interpolate_frames(numbered(5), output_samples(8, 16), Recording()))
    assert [int(f[0, 0, 0]) for f in frames] == [0, 2, 4]


# -- methods ---------------------------------------------------------------------------------------


def test_linear_is_a_cross_fade():
    black, white = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 200, np.uint8)
    out = LinearInterpolator().interpolate(black, white, [0.25, 0.5])
    assert out[0].dtype == np.uint8 and (out[0] == 50).all() and (out[1] == 100).all()


@pytest.mark.parametrize("quality", ["fast", "balanced", "high_quality"])
def test_optical_flow_puts_a_moving_square_within_a_pixel(quality):
    # 6 px right and 3 px down per frame; at 16 -> 24 fps the in-betweens sit at 1/3 and 2/3
    first, second = square_frame(10, 10, 48, 64), square_frame(16, 13, 48, 64)
    truths = [square_frame(12, 11, 48, 64), square_frame(14, 12, 48, 64)]
    out = FlowInterpolator(quality).interpolate(first, second, [1 / 3, 2 / 3])
    for frame, truth in zip(out, truths, strict=True):
        assert frame.shape == truth.shape and frame.dtype == np.uint8
        assert np.hypot(*np.subtract(square_centre(frame), square_centre(truth))) < 1.0
        # the background it uncovers is the still background, not a ghost of the square
        assert np.abs(frame.astype(int) - truth).mean() < 6.0


def test_optical_flow_follows_a_pan_where_a_cross_fade_ghosts():
    truth = panning_video([0, 0.25, 0.5, 0.75, 1], 96, 128, speed=(5, 2))
    flow = FlowInterpolator("balanced").interpolate(truth[0], truth[4], [0.25, 0.5, 0.75])
    linear = LinearInterpolator().interpolate(truth[0], truth[4], [0.25, 0.5, 0.75])
    inner = (slice(8, -8), slice(8, -8))
    for made, cross, expected in zip(flow, linear, truth[1:4], strict=True):
        flow_error = np.abs(made[inner].astype(int) - expected[inner]).mean()
        assert flow_error < 2.0 < np.abs(cross[inner].astype(int) - expected[inner]).mean()


# -- configuration ---------------------------------------------------------------------------------


def test_the_settings_validate_every_field():
    with pytest.raises(SettingsError) as caught:
        InterpolationOptions(method="cubic", strength=2, quality="best")
    assert {e.key for e in caught.value.errors} == {
        "interpolation_method",
        "interpolation_strength",
        "interpolation_quality",
    }
    assert "one of linear, optical_flow, neural" in str(caught.value)
    options = InterpolationOptions(method="Linear")
    assert options.method == "linear"


def test_settings_groups_are_the_interpolation_settings():
    settings = WanConfig(fps=24, interpolation={"method": "linear", "strength": 0.5, "quality": "fast"})
    options = settings.interpolation
    assert (options.method, options.strength, options.quality) == ("linear", 0.5, "fast")


def test_neural_without_weights_falls_back_to_optical_flow(tmp_path, monkeypatch):
    monkeypatch.delenv("WAN_INTERPOLATION_WEIGHTS", raising=False)
    interpolator, note = build_interpolator(InterpolationOptions(method="neural"), models_dir=tmp_path)
    assert interpolator.name == "optical_flow"
    assert note == (
        f"no neural interpolation weights found at {tmp_path / 'interpolation'}/ "
        "(.safetensors, .pth, .pt, .pkl, .ckpt); using optical_flow"
    )
    assert build_interpolator(InterpolationOptions(method="linear"))[0].name == "linear"


# -- the render's output stage ------------------------------------------------------------------------


def model_run(tmp_path, fps: float, max_frames: int):
    """A run folder with the plan's model frames on disk: a pan, with a colour jump at each join."""
    plan = create_plan(
        WanConfig(model="tiny", width=64, height=64, fps=fps, max_frames=max_frames, clip_frames=17, seed=1)
    )
    factors = frame_factors(RenderOptions(color_coherence=False))
    take = RunFolder(tmp_path / "run").start(plan, None, mode="new", factors=factors)
    frames = panning_video(range(plan.model_frames), 64, 64, speed=(1.5, 0.5))
    for clip in plan.clips:
        shifted = np.stack(frames[clip.model_start_frame : clip.model_end_frame]).astype(int) + 25 * (
            clip.index % 2
        )
        take.write_clip(clip, np.clip(shifted, 0, 255).astype(np.uint8), {})
    return plan, take


def output_options(**overrides):
    options = {
        "interpolation": None,
        "save_frames": True,
        "write_video": False,
        "quality_checks": True,
        "crf": 17,
        "models_dir": None,
        "device": None,
        "emit": lambda message: None,
    }
    return options | overrides


@pytest.mark.parametrize("fps", [24, 30])
def test_output_stage_interpolates_writes_frames_and_measures(tmp_path, fps):
    plan, folder = model_run(tmp_path, fps, 60)
    assert len(plan.clips) >= 3
    config = InterpolationOptions(method="optical_flow", quality="fast")
    output = write_output(plan, folder, **output_options(interpolation=config))
    written = sorted(folder.frames_dir.glob("*.png"))
    assert len(written) == plan.output_frames == 60
    samples = plan_samples(plan.output_frames, fps, 16, 1.0)
    exact = [s for s in samples if s.t == 0]
    for sample in exact[:5]:
        np.testing.assert_array_equal(
            read_png(written[sample.index]), read_png(folder.model_frame_path(sample.frame))
        )
    report = output.quality
    assert report.frames == 60 and report.artifacts == 0
    assert len(report.joins) == len(plan.clips) - 1 and report.seams > 3  # the colour jumps show
    assert output.interpolation["used"] == "optical_flow"
    json.dumps(report.to_dict())


def test_output_stage_without_interpolation_holds_frames_and_does_not_call_them_duplicates(tmp_path):
    plan, folder = model_run(tmp_path, 24, 40)
    (folder.frames_dir).mkdir()
    stale = folder.frames_dir / "000001.png"
    write_png(stale, np.zeros((64, 64, 3), np.uint8))
    output = write_output(plan, folder, **output_options())
    sources = nearest_model_frames(40, 24, 16)
    assert output.interpolation == {"enabled": False, "used": "nearest"}
    assert stale.stat().st_ino == folder.model_frame_path(int(sources[1])).stat().st_ino  # a hard link
    assert output.quality.duplicate_frames == () and output.quality.frames == 40


def test_interpolated_frames_never_write_through_links_to_model_frames(tmp_path):
    plan, folder = model_run(tmp_path, 24, 20)
    write_output(plan, folder, **output_options())  # frames/ as hard links to model frames
    before = read_png(folder.model_frame_path(1))
    config = InterpolationOptions(method="linear")
    write_output(plan, folder, **output_options(interpolation=config))
    np.testing.assert_array_equal(read_png(folder.model_frame_path(1)), before)
