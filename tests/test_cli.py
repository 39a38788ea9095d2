"""The command line, run as users run it: `python -m wan ...` in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "deforum_settings.txt"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wan", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


COMMANDS = (
    "plan",
    "movement",
    "settings",
    "schedule",
    "generate",
    "enhance",
    "interpolate",
    "check",
    "upscale",
    "serve",
    "worker",
    "runtime",
    "models",
    "bench",
)


def test_help_lists_every_command_and_each_has_its_own_help():
    from wan.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert tuple(commands) == COMMANDS
    result = run("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert f"    {command}" in result.stdout
        help_text = commands[command].format_help()
        assert help_text.startswith(f"usage: python -m wan {command}") and commands[command].description


def test_plan_table_from_a_deforum_file():
    result = run("plan", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "192 frames at 24 fps" in result.stdout and "4 clip(s)" in result.stdout
    assert "Ignored" in result.stderr and "Traceback" not in result.stderr
    assert "movement (appended to each prompt):" in result.stdout
    assert "clip 2: camera movement with moderate dolly forward (sustained)" in result.stdout


def test_plan_json_has_the_documented_clip_fields():
    result = run("plan", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    fields = {
        "index",
        "start_frame",
        "end_frame",
        "num_frames",
        "prompt",
        "negative_prompt",
        "seed",
        "conditioning",
    }
    assert all(fields <= set(clip) for clip in plan["clips"])
    assert plan["clips"][-1]["end_frame"] == plan["output_frames"] == 192


def test_overrides_and_random_seed(tmp_path):
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"prompts": {"0": "a", "100": "b"}, "seed": -1}))
    result = run(
        "plan", str(settings), "--json", "--seed", "9", "--set", "max_frames=200", "--set", "model=t2v-1.3b"
    )
    plan = json.loads(result.stdout)
    assert plan["seed"] == 9 and plan["output_frames"] == 200 and plan["model"] == "t2v-1.3b"


def test_planning_does_not_import_torch():
    code = (
        "import sys; from wan.cli import main; "
        f"main(['plan', {str(EXAMPLE)!r}, '--json']); "
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'gradio') if m in sys.modules]; "
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY []" in result.stderr


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"W": 5000}, "W: must be a whole number from 64 to 2048"),
        ({"guidence_scale": 5}, "did you mean 'guidance_scale'"),
        ({"translation_x": "0:(0), 30:(sinn(t))"}, "translation_x: keyframe 2, character 12"),
    ],
)
def test_bad_settings_end_with_a_message_not_a_traceback(tmp_path, settings, expected):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(settings))
    result = run("plan", str(path))
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_unreadable_and_malformed_files(tmp_path):
    result = run("plan", str(tmp_path / "missing.json"))
    assert result.returncode == 2 and "missing.json: cannot be read: No such file" in result.stderr
    broken = tmp_path / "broken.txt"
    broken.write_text("{not json")
    result = run("plan", str(broken))
    assert result.returncode == 2 and "broken.txt: is not valid JSON" in result.stderr
    result = run("plan", str(EXAMPLE), "--set", "novalue")
    assert result.returncode == 2 and "--set needs KEY=VALUE" in result.stderr


def test_settings_converts_a_deforum_file_and_lists_keys():
    result = run("settings", str(EXAMPLE))
    data = json.loads(result.stdout)
    assert data["W"] == 832 and "sampler" not in data and "model" in data
    listing = run("settings", "--list").stdout
    assert "clip_frames  (default null)" in listing and "4n+1" in listing


def test_schedule_command():
    result = run("schedule", "0:(0), 4:(8)", "--frames", "5", "--json")
    assert json.loads(result.stdout) == [0, 2, 4, 6, 8]
    bad = run("schedule", "0:(0), 4:(sinn(t))", "--frames", "5")
    assert bad.returncode == 2 and "^" in bad.stderr and "did you mean 'sin'" in bad.stderr
    assert "--frames must be" in run("schedule", "0:(0)", "--frames", "0").stderr


MOVEMENT_EXAMPLE = ROOT / "examples" / "movement_examples.json"


def test_movement_table_and_json():
    table = run("movement", str(MOVEMENT_EXAMPLE))
    assert table.returncode == 0, table.stderr
    assert "43-105   camera movement with moderate panning right (brief)" in table.stdout
    data = json.loads(run("movement", str(MOVEMENT_EXAMPLE), "--json").stdout)
    segments = data["segments"]
    assert [s["start_frame"] for s in segments] == [0, 43, 106]
    assert {"start_frame", "end_frame", "description", "movements"} <= set(segments[0])
    assert segments[0]["movements"][0] | {"strength": 0} == {
        "kind": "pan",
        "direction": "left",
        "intensity": "subtle",
        "duration": "sustained",
        "words": "subtle panning left (sustained)",
        "strength": 0,
        "schedules": ["translation_x"],
        "period_seconds": None,
    }


def test_movement_plot_is_a_png(tmp_path):
    target = tmp_path / "curves.png"
    result = run("movement", str(MOVEMENT_EXAMPLE), "--plot", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generate_with_the_tiny_model_and_resume(tmp_path):
    pytest.importorskip("diffusers")
    settings = tmp_path / "s.json"
    settings.write_text(
        json.dumps(
            {
                "prompts": {"0": "a misty forest", "20": "a castle"},
                "max_frames": 30,
                "fps": 24,
                "W": 64,
                "H": 64,
                "steps": 2,
                "clip_frames": 17,
                "seed": 3,
            }
        )
    )
    common = ["--models-dir", str(tmp_path / "models")]
    result = run("generate", str(settings), "--model", "tiny", "--out", str(tmp_path / "run"), *common)
    assert result.returncode == 0, result.stderr
    assert "random weights" in result.stderr and "video:" in result.stdout
    from wan.post.encode import count_frames

    assert count_frames(tmp_path / "run" / "video.mp4") == 30
    encoded = (tmp_path / "run" / "video.mp4").stat().st_mtime_ns
    again = run("generate", str(settings), "--model", "tiny", "--resume", str(tmp_path / "run"), *common)
    assert again.returncode == 0 and "step 1/2" not in again.stderr
    assert "nothing was left to generate" in again.stdout
    assert (tmp_path / "run" / "video.mp4").stat().st_mtime_ns == encoded  # not encoded again
    changed = run(
        "generate",
        str(settings),
        "--model",
        "tiny",
        "--resume",
        str(tmp_path / "run"),
        "--set",
        "steps=3",
        *common,
    )
    assert changed.returncode == 2 and "holds a different plan" in changed.stderr
    frames_only = run(
        "generate",
        str(settings),
        "--model",
        "tiny",
        "--out",
        str(tmp_path / "frames-run"),
        "--frames-only",
        *common,
    )
    assert frames_only.returncode == 0 and not (tmp_path / "frames-run" / "video.mp4").exists()
    assert len(list((tmp_path / "frames-run" / "takes" / "001" / "frames").glob("*.png"))) == 30
    listing = json.loads(run("models", "--json", *common).stdout)
    tiny = next(m for m in listing["models"] if m["id"] == "tiny")
    assert tiny["present"] == str(tmp_path / "models" / "tiny")


def test_generate_with_a_missing_model_says_how_to_get_it(tmp_path):
    pytest.importorskip("diffusers")
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"max_frames": 17}))
    result = run(
        "generate", str(settings), "--models-dir", str(tmp_path / "models"), "--out", str(tmp_path / "r")
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "hf download Wan-AI/Wan2.1-VACE-1.3B-diffusers" in result.stderr


def test_generate_from_a_run_renders_only_what_changed(tmp_path):
    pytest.importorskip("diffusers")
    settings = {
        "prompts": {"0": "a misty forest", "9": "a castle"},
        "max_frames": 17,
        "W": 64,
        "H": 64,
        "steps": 2,
        "clip_frames": 9,
        "clip_overlap": 1,
        "seed": 3,
    }
    path = tmp_path / "s.json"
    path.write_text(json.dumps(settings))
    common = ["--model", "tiny", "--models-dir", str(tmp_path / "models")]
    first = run("generate", str(path), "--out", str(tmp_path / "run"), *common)
    assert first.returncode == 0, first.stderr
    path.write_text(json.dumps(settings | {"prompts": {"0": "a misty forest", "9": "a ruined castle"}}))
    again = run("generate", str(path), "--from", str(tmp_path / "run"), *common)
    assert again.returncode == 0, again.stderr
    assert "re-render: 1 clip(s) to render, 1 reused" in again.stderr
    assert "clip 0: reused (take 1)" in again.stderr and "clip 1: render (prompt changed)" in again.stderr
    assert "take 2: generated 1 clip(s)" in again.stdout and "takes/002/video.mp4" in again.stdout
    both = run("generate", str(path), "--from", str(tmp_path / "run"), "--resume", str(tmp_path / "run"))
    assert both.returncode == 2 and "give one" in both.stderr
    preview = run("generate", str(path), "--preview", "--out", str(tmp_path / "preview"), *common)
    assert preview.returncode == 0 and "preview: 32x32, 2 steps" in preview.stderr + preview.stdout
