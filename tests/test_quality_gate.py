"""The quality gate and per-clip scores in a render with the tiny models: a clip forced to fail
(black frames injected into its first render) is rendered again with the next seed and the kept
attempt passes; attempts are bounded; every attempt is recorded; CLIP scores land in each clip's
metadata and metrics.json, the scorer released after each use."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tiny_animation
from tiny_quality import build_tiny_clip

from wan.config import config_from_dict
from wan.plan import create_plan
from wan.post.quality.gate import Verdict, best_attempt, judge, measure_clip
from wan.render import RenderOptions, RunFolder, render
from wan.render import engine as engine_module
from wan.render.gating import next_seed
from wan.ui.quality_view import clip_quality_rows

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

SETTINGS = {
    **tiny_animation.SETTINGS,
    "prompts": {"0": "a misty forest", "9": "a stone castle"},
    "max_frames": 17,
    "output_color_coherence": False,  # it would lift injected black frames to the first clip's colours
}


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def render_with(tiny_models_dir, run_dir, **settings):
    config = config_from_dict(SETTINGS | settings)[0]
    plan = create_plan(config)
    options = RenderOptions.of(
        config, models_dir=str(tiny_models_dir), preview_every=0, memory="none", write_video=False
    )
    result = render(plan, run_dir, options=options, settings=config.to_dict())
    return plan, result, RunFolder(result.run_dir).take(result.take)


def blacken_seeds(monkeypatch, seeds):
    """Test hook: the real render runs, then frames of clips rendered with these seeds go black."""
    original = engine_module._Session.denoise

    def denoise(session, clip, loaded, conditioning):
        frames = original(session, clip, loaded, conditioning)
        return np.zeros_like(frames) if seeds == "all" or clip.seed in seeds else frames

    monkeypatch.setattr(engine_module._Session, "denoise", denoise)


def test_a_failing_clip_is_rendered_again_with_the_next_seed_and_the_kept_attempt_passes(
    tiny_models_dir, tmp_path, monkeypatch
):
    plan = create_plan(config_from_dict(SETTINGS)[0])
    second = plan.clips[1]
    blacken_seeds(monkeypatch, {second.seed})
    plan, _result, folder = render_with(
        tiny_models_dir, tmp_path / "run", quality_gate_enabled=True, quality_gate_max_seam=1000
    )
    metrics = json.loads(folder.metrics_path.read_text())
    first, clip = metrics["clips"]
    assert first["gate"]["rerolled"] is False and len(first["gate"]["attempts"]) == 1
    gate = clip["gate"]
    assert [a["seed"] for a in gate["attempts"]] == [second.seed, next_seed(second.seed, 1)]
    assert gate["attempts"][0]["passed"] is False
    assert gate["attempts"][0]["failures"] == [f"black frames {second.new_frames} > 0"]
    assert gate["attempts"][1]["passed"] is True and gate["kept"] == 2 and gate["rerolled"] is True
    assert gate["reasons"] == gate["attempts"][0]["failures"]
    assert all(a["seconds"] > 0 and a["check_seconds"] >= 0 for a in gate["attempts"])
    assert clip["seed"] == second.seed + 1 and clip["black_frames"] == 0
    assert clip["quality"]["black_frames"] == 0 and clip["quality"]["seam"] is not None
    kept = folder.read_model_frames(range(second.model_start_frame, second.model_end_frame))
    assert kept.reshape(len(kept), -1).mean(axis=1).min() > 0.02 * 255
    assert metrics["quality"]["gate"]["rerolled"] == [{"index": 1, "reasons": gate["reasons"], "kept": 2}]
    assert metrics["quality"]["gate"]["attempts"] == 3 and metrics["quality"]["gate"]["failed"] == []
    assert folder.clip_metadata(1)["gate"] == gate
    # the re-roll went on in a take of its own, with the kept seed in its plan and settings
    run = folder.run
    first, kept = run.takes()
    assert kept.number == folder.number == 2 and kept.based_on == first.number
    assert kept.record["reason"].startswith("quality gate: clip 1 re-rolled (black frames")
    assert kept.plan.clips[1].seed == second.seed + 1 and first.plan.clips[1].seed == second.seed
    assert kept.settings["clip_seeds"] == {"1": second.seed + 1}
    assert kept.fingerprints[0] == first.fingerprints[0] and kept.fingerprints[1] != first.fingerprints[1]
    assert folder.clip_metadata(0)["reused"] is True and folder.clip_metadata(1)["take"] == 2
    rows = clip_quality_rows(metrics)  # what the tab shows
    assert rows[0][:4] == [0, 7, 1, "passed"]
    assert rows[1][:4] == [
        1,
        9,
        2,
        f"re-rolled (black frames {second.new_frames} > 0): kept attempt 2, passed",
    ]
    assert (folder.root / "quality.png").is_file()


def test_attempts_are_bounded_and_the_best_is_kept_when_none_passes(tiny_models_dir, tmp_path, monkeypatch):
    blacken_seeds(monkeypatch, "all")
    calls = []
    original = engine_module._Session.make_frames
    monkeypatch.setattr(
        engine_module._Session, "make_frames", lambda s, clip: calls.append(clip.seed) or original(s, clip)
    )
    _plan, _result, folder = render_with(
        tiny_models_dir, tmp_path / "run", max_frames=9, quality_gate_enabled=True, quality_gate_attempts=2
    )
    metrics = json.loads(folder.metrics_path.read_text())
    (clip,) = metrics["clips"]
    assert calls == [7, 8]
    assert (
        len(clip["gate"]["attempts"]) == 2 and clip["gate"]["passed"] is False and clip["gate"]["kept"] == 1
    )
    assert metrics["quality"]["gate"]["failed"] == [0]


def test_adherence_scores_in_clip_metadata_and_metrics_the_scorer_released(
    tiny_models_dir, tmp_path, monkeypatch, clip_folder
):
    from wan.post.quality import adherence

    released = []
    original = adherence.AdherenceScorer.release
    monkeypatch.setattr(adherence.AdherenceScorer, "release", lambda s: released.append(1) or original(s))
    _plan, _result, folder = render_with(
        tiny_models_dir,
        tmp_path / "run",
        quality_adherence=True,
        quality_clip_model=str(clip_folder),
        quality_clip_frames=3,
    )
    metrics = json.loads(folder.metrics_path.read_text())
    scores = metrics["quality"]["adherence"]
    assert [c["index"] for c in scores["clips"]] == [0, 1] and len(released) == 2
    for clip, summary in zip(metrics["clips"], scores["clips"], strict=True):
        assert 0 <= clip["quality"]["adherence"]["clip_score"] <= 100
        assert clip["quality"]["adherence"]["frames"] == 3
        assert summary["clip_score"] == clip["quality"]["adherence"]["clip_score"]
    assert scores["mean_clip_score"] == pytest.approx(
        np.mean([c["clip_score"] for c in scores["clips"]]), abs=1e-3
    )
    assert "gate" not in metrics["quality"] and "flicker" in metrics["quality"]


def test_the_clip_score_threshold_rerolls_until_it_is_met(tiny_models_dir, tmp_path, clip_folder):
    _plan, _result, folder = render_with(
        tiny_models_dir,
        tmp_path / "run",
        max_frames=9,
        quality_adherence=True,
        quality_clip_model=str(clip_folder),
        quality_gate_enabled=True,
        quality_gate_attempts=3,
        quality_gate_max_black_frames=None,
        quality_gate_min_clip_score=100,  # cannot be met: every attempt is made and recorded
    )
    (clip,) = json.loads(folder.metrics_path.read_text())["clips"]
    attempts = clip["gate"]["attempts"]
    assert len(attempts) == 3 and not any(a["passed"] for a in attempts)
    assert all(a["failures"][0].startswith("CLIP score") for a in attempts)
    scores = [a["measures"]["clip_score"] for a in attempts]
    assert clip["gate"]["kept"] == scores.index(max(scores)) + 1
    assert clip["quality"]["adherence"]["clip_score"] == max(scores)


def test_measures_of_a_clip():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    moving = np.stack([np.roll(np.kron(base, np.ones((8, 8, 1), np.uint8)), i, axis=1) for i in range(9)])
    clean = measure_clip(moving)
    assert clean["black_frames"] == 0 and clean["frozen_frames"] == 0 and clean["seam"] is None
    broken = moving.copy()
    broken[3:5] = 0
    broken[6:9] = broken[5]
    found = measure_clip(broken)
    assert found["black_frames"] == 2 and found["frozen_frames"] == 4
    jump = measure_clip(moving, previous=[255 - frame for frame in moving[:4]])
    smooth = measure_clip(moving[4:], previous=list(moving[:4]))
    assert jump["seam"] > smooth["seam"]


def test_judge_and_best_attempt():
    thresholds = {"black_frames": 0, "clip_score": 20.0, "seam": 3.0}
    assert judge({"black_frames": 0, "clip_score": 25.0, "seam": None}, thresholds).passed
    verdict = judge({"black_frames": 2, "clip_score": 10.0, "seam": 2.0}, thresholds)
    assert verdict.failures == ("black frames 2 > 0", "CLIP score 10 < 20")
    assert verdict.shortfall == pytest.approx(2 + 0.5)
    assert best_attempt([Verdict(("a", "b"), 1.0), Verdict(("a",), 5.0), Verdict(("a",), 2.0)]) == 2
    assert best_attempt([Verdict(("a",), 1.0), Verdict(), Verdict()]) == 1
