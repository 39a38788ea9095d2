"""Quality checks: each metric stays quiet on a clean video and fires on one built to trip it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wan.post.quality import METRICS, QualityChecker, QualityReport
from wan.post.resample import nearest_model_frames, output_joins, plan_samples
from wan.post.synthetic import panning_video

THRESHOLDS = {spec.key: spec.threshold for spec in METRICS}
HEIGHT, WIDTH = 72, 96


def clean(count: int = 40) -> list[np.ndarray]:
    return panning_video(range(count), HEIGHT, WIDTH, speed=(2.0, 0.5))


def shifted(frame: np.ndarray, offset) -> np.ndarray:
    return np.clip(np.rint(frame.astype(np.float32) + offset), 0, 255).astype(np.uint8)


def measure(frames, joins=(), times=None) -> QualityReport:
    return QualityChecker(joins).add_all(frames, times).report()


def noisy(frames):
    rng = np.random.default_rng(0)
    return [shifted(f, rng.normal(0, 20, f.shape)) for f in frames]


def flickering(frames):
    return [shifted(f, 8 if i % 2 else -8) for i, f in enumerate(frames)]


def seamed(frames):
    return frames[:20] + [shifted(f, 14) for f in frames[20:]]


def drifting(frames):
    return [shifted(f, np.array([0.0, -1.2, -1.6]) * i) for i, f in enumerate(frames)]


def broken(frames):
    frames = list(frames)
    frames[5] = np.zeros_like(frames[5])
    frames[12] = frames[11].copy()
    frames[30] = frames[31] = frames[29].copy()
    return frames


def test_a_clean_video_raises_no_warning():
    report = measure(clean(), joins=[20])
    assert report.warnings == ()
    assert report.temporal_consistency < 3 and report.flicker < 1 and report.seams < 2
    assert report.color_drift < 3 and report.artifacts == 0 and report.frames == 40


@pytest.mark.parametrize(
    ("metric", "make"),
    [
        ("temporal_consistency", noisy),
        ("flicker", flickering),
        ("seams", seamed),
        ("color_drift", drifting),
        ("artifacts", broken),
    ],
)
def test_each_metric_fires_on_a_video_built_to_trip_it(metric, make):
    report = measure(make(clean()), joins=[20])
    assert report.values()[metric] > THRESHOLDS[metric]
    title = next(spec.title for spec in METRICS if spec.key == metric)
    assert any(line.startswith(f"{title} ") for line in report.warnings)


def test_artifacts_name_their_frames():
    report = measure(broken(clean()))
    assert report.black_frames == (5,)
    assert report.duplicate_frames == (12, 30, 31) and report.frozen_runs == ((29, 3),)
    assert report.artifacts == 4
    assert "black 5; duplicated 12, 30, 31; frozen 29-31" in report.warnings[-1]


def test_nan_frames_are_found_in_float_input():
    frames = [f.astype(np.float32) / 255 for f in clean(6)]
    frames[3][0, 0, 0] = np.nan
    report = measure(frames)
    assert report.nan_frames == (3,) and report.artifacts == 1


def test_seams_point_at_the_worst_join():
    report = measure(seamed(clean()), joins=[10, 20, 30])
    assert report.joins == (10, 20, 30) and max(report.seam_ratios) == report.seam_ratios[1]
    assert "worst at the join before frame 20" in next(w for w in report.warnings if w.startswith("seams"))


def test_held_frames_with_their_times_are_intended():
    model = clean(30)
    sources = nearest_model_frames(44, 24, 16)
    held = [model[s] for s in sources]
    assert measure(held).duplicate_frames  # without times every repeat is a duplicate
    report = measure(held, joins=output_joins(sources.tolist(), [15]), times=sources.tolist())
    assert report.duplicate_frames == () and report.artifacts == 0
    assert report.flicker < THRESHOLDS["flicker"] and report.seams < 2


def test_uneven_steps_from_partial_strength_are_not_flicker():
    times = [s.time for s in plan_samples(40, 60, 16, 0.5)]  # uneven: pulled towards model frames
    still = panning_video([0], HEIGHT, WIDTH)[0] // 2
    fade = [shifted(still, 8 * t) for t in times]  # a steady fade, 8 levels per model frame
    assert measure(fade, times=times).flicker < 0.3
    assert measure(fade).flicker > 0.8  # read as evenly spaced, the uneven steps look like jumps


def test_report_serialises_and_prints():
    report = measure(broken(clean()), joins=[20])
    data = json.loads(json.dumps(report.to_dict()))
    assert data["metrics"]["artifacts"] == {
        "value": 4,
        "threshold": 0.0,
        "unit": "frames",
        "scale": next(spec.scale for spec in METRICS if spec.key == "artifacts"),
        "warn": True,
    }
    assert data["frozen_runs"] == [[29, 3]] and data["warnings"] == list(report.warnings)
    table = report.table()
    assert table.splitlines()[0].split() == ["metric", "value", "warn", "above", "unit"]
    assert "warnings:" in table and "no warnings" in measure(clean()).table()


def test_too_short_to_measure():
    report = measure(clean(1))
    assert report.values() == {
        "temporal_consistency": None,
        "flicker": None,
        "seams": None,
        "color_drift": None,
        "artifacts": 0,
    }
    with pytest.raises(ValueError, match="before the previous frame's"):
        QualityChecker().add_all(clean(2), times=[1.0, 0.0])
