"""`python -m wan interpolate` and `check` on any video, and interpolation inside `generate`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wan.cli import main
from wan.post.encode import count_frames, write_mp4
from wan.post.synthetic import panning_video

ROOT = Path(__file__).parent.parent


def run_wan(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m wan ARGS` in a fresh interpreter, as users run it."""
    return subprocess.run(
        [sys.executable, "-m", "wan", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """33 frames at 16 fps of a slow pan, 64x48."""
    path = tmp_path_factory.mktemp("videos") / "pan.mp4"
    write_mp4(panning_video(range(33), 48, 64, speed=(1.5, 0.5)), path, fps=16)
    return path


@pytest.mark.parametrize(("fps", "expected"), [(24, 49), (30, 61), (60, 121)])
def test_interpolate_gives_the_documented_frame_count(video, tmp_path, capsys, fps, expected):
    out = tmp_path / f"pan{fps}.mp4"
    assert main(["interpolate", str(video), "--fps", str(fps), "--method", "linear", "--out", str(out)]) == 0
    assert count_frames(out) == expected
    assert f"{expected} frames at {fps} fps from 33 frames at 16 fps (linear" in capsys.readouterr().out


def test_interpolate_as_users_run_it(video, tmp_path):
    out = tmp_path / "pan30.mp4"
    result = run_wan("interpolate", str(video), "--fps", "30", "--method", "optical_flow", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert count_frames(out) == 61 and "(optical_flow, balanced, strength 1)" in result.stdout


def test_neural_without_weights_says_so_and_uses_optical_flow(video, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WAN_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("WAN_INTERPOLATION_WEIGHTS", raising=False)
    out = tmp_path / "neural.mp4"
    assert main(["interpolate", str(video), "--fps", "24", "--method", "neural", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    folder = tmp_path / "models" / "interpolation"
    assert f"note: no neural interpolation weights found at {folder}/" in captured.err
    assert "using optical_flow" in captured.err and "(optical_flow," in captured.out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--fps", "0"], "error: --fps: must be a number above 0 to 240 (got '0')"),
        (
            ["--fps", "30", "--method", "cubic"],
            "error: --method: must be one of linear, optical_flow, neural",
        ),
        (
            ["--fps", "30", "--quality", "best"],
            "error: --quality: must be one of fast, balanced, high_quality",
        ),
        (["--fps", "30", "--strength", "2"], "error: --strength: must be a number from 0 to 1 (got '2')"),
        (["--fps", "30", "--crf", "60"], "error: --crf: must be a whole number from 0 to 51 (got '60')"),
        (["--fps", "30", "--method", "neural", "--weights", "none.pth"], "error: --weights: no such file"),
    ],
)
def test_bad_options_are_one_line_errors(video, capsys, arguments, message):
    assert main(["interpolate", str(video), *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_missing_or_unreadable_input_is_a_one_line_error(tmp_path, capsys):
    assert main(["interpolate", str(tmp_path / "none.mp4"), "--fps", "30"]) == 2
    assert capsys.readouterr().err == f"error: IN: '{tmp_path / 'none.mp4'}': no such file\n"
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert main(["check", str(text)]) == 2
    assert capsys.readouterr().err == f"error: IN: '{text}' is not a video that ffmpeg can read\n"
    assert main(["check", str(text), "--joins", "a,b"]) == 2
    assert "error: --joins: must be frame numbers from 1 up" in capsys.readouterr().err


def test_check_prints_the_table(video, capsys):
    assert main(["check", str(video), "--joins", "17"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{video}: 33 frames, 64x48 at 16 fps\n")
    for title in ("temporal consistency", "flicker", "seams", "colour drift", "artifacts"):
        assert f"\n{title} " in out
    assert out.rstrip().endswith("no warnings")


def test_check_warns_and_reports_json(tmp_path, capsys):
    frames = panning_video(range(20), 48, 64)
    frames[7] = np.zeros_like(frames[7])
    path = tmp_path / "black.mp4"
    write_mp4(frames, path, fps=16)
    assert main(["check", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fps"] == 16 and report["frames"] == 20 and report["black_frames"] == [7]
    assert report["metrics"]["artifacts"]["warn"] is True
    assert any(w.startswith("artifacts 1 is above 0") for w in report["warnings"])


def test_generate_interpolates_and_writes_quality_to_metrics(tmp_path):
    pytest.importorskip("diffusers")
    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps(
            {
                "model": "tiny",
                "W": 64,
                "H": 64,
                "fps": 24,
                "max_frames": 24,
                "steps": 2,
                "clip_frames": 17,
                "seed": 3,
                "interpolation_method": "linear",
                "prompts": {"0": "a forest"},
            }
        )
    )
    run = tmp_path / "run"
    models = str(tmp_path / "models")
    assert (
        main(["generate", str(settings), "--out", str(run), "--models-dir", models, "--memory", "none"]) == 0
    )
    metrics = json.loads((run / "takes" / "001" / "metrics.json").read_text())
    assert metrics["interpolation"]["used"] == "linear" and metrics["interpolation"]["fps"] == 24
    assert metrics["quality"]["frames"] == 24 == count_frames(run / "video.mp4")
    assert set(metrics["quality"]["metrics"]) == {
        "temporal_consistency",
        "flicker",
        "seams",
        "color_drift",
        "artifacts",
    }
    assert len(list((run / "takes" / "001" / "frames").glob("*.png"))) == 24
