"""The quality plot: `python -m wan check VIDEO --plot out.png` and a render's quality.png draw
flicker and consistency per frame, the clip joins with their seam ratios and each clip's CLIP score
(re-rolled clips in another colour)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from wan.cli import main
from wan.post.encode import write_mp4
from wan.post.quality import QualityChecker
from wan.post.quality.plot import (
    BAR,
    GAP,
    PANEL_HEIGHT,
    REROLL,
    SEAM,
    TOP,
    WIDTH,
    ClipBar,
    _Panel,
    plot_quality,
    run_clip_bars,
)
from wan.post.synthetic import panning_video


def pixel(image: Image.Image, x: float, y: float) -> tuple[int, int, int]:
    return image.getpixel((round(x), round(y)))


def panel_top(number: int) -> int:
    return TOP + 18 + number * (PANEL_HEIGHT + GAP)


def test_check_draws_the_report_with_the_joins(tmp_path, capsys):
    frames = np.stack(panning_video(range(24), 48, 64))
    frames[12:] = 255 - frames[12:]  # a hard cut: a seam at 12
    video = tmp_path / "cut.mp4"
    write_mp4(frames, video, fps=16)
    target = tmp_path / "plot.png"
    assert main(["check", str(video), "--joins", "12", "--plot", str(target)]) == 0
    image = Image.open(target).convert("RGB")
    assert image.width == WIDTH and image.height == TOP + 2 * (PANEL_HEIGHT + GAP) + 10
    dummy = _Panel(_NoDraw(), panel_top(0), 24, 1.0, "")
    x = dummy.x(11.5)
    assert pixel(image, x, panel_top(0) + PANEL_HEIGHT - 5) == SEAM
    assert pixel(image, x, panel_top(1) + PANEL_HEIGHT - 5) == SEAM
    assert "seams" in capsys.readouterr().out


def test_a_plot_name_that_is_not_png_is_a_one_line_error(tmp_path, capsys):
    video = tmp_path / "pan.mp4"
    write_mp4(panning_video(range(5), 48, 64), video, fps=16)
    assert main(["check", str(video), "--plot", str(tmp_path / "plot.jpg")]) != 0
    assert "--plot: must be a .png file name" in capsys.readouterr().err


class _NoDraw:
    """Stands in for ImageDraw when only the panel's coordinates are wanted."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def test_clip_scores_are_bars_over_their_frames_rerolled_in_orange(tmp_path):
    report = QualityChecker([10]).add_all(panning_video(range(20), 48, 64)).report().to_dict()
    bars = [ClipBar(0, 10, 30.0), ClipBar(10, 20, 20.0, rerolled=True)]
    target = plot_quality(report, tmp_path / "plot.png", clips=bars)
    image = Image.open(target).convert("RGB")
    assert image.height == TOP + 3 * (PANEL_HEIGHT + GAP) + 10
    panel = _Panel(_NoDraw(), panel_top(2), 20, 40.0, "")
    assert pixel(image, panel.x(4), panel.bottom - 3) == BAR
    assert pixel(image, panel.x(15), panel.bottom - 3) == REROLL
    assert pixel(image, panel.x(4), panel.y(32)) != BAR  # a bar of 30 ends below 32
    assert pixel(image, panel.x(15), panel.y(18)) == REROLL


def test_series_are_in_the_report_for_plots():
    report = QualityChecker().add_all(panning_video(range(6), 48, 64)).report()
    data = report.to_dict()
    assert [f for f, _ in data["series"]["flicker"]] == [1, 2, 3, 4]
    assert [f for f, _ in data["series"]["temporal_consistency"]] == [1, 2, 3, 4, 5]
    assert data["series"]["flicker"][0][1] == pytest.approx(round(report.flicker_series[0][1], 3))
    assert "flicker_series" not in data


def test_run_clip_bars_from_metrics_and_plan():
    metrics = {
        "clips": [
            {"index": 0, "quality": {"adherence": {"clip_score": 25.0}}},
            {"index": 1, "quality": {"adherence": {"clip_score": 21.5}}, "gate": {"rerolled": True}},
            {"index": 2},
        ]
    }
    plan = {"clips": [{"index": i, "start_frame": 8 * i, "end_frame": 8 * i + 8} for i in range(3)]}
    assert run_clip_bars(metrics, plan) == [ClipBar(0, 8, 25.0), ClipBar(8, 16, 21.5, True)]
    assert np.isclose(run_clip_bars(metrics, plan)[1].score, 21.5)
