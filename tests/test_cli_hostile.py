"""Hostile input on the command line: files that are not settings, settings that attack the
parsers, output that nobody reads and model folders that cannot load. Every case ends with a
short error (exit status 2) or succeeds; none prints a traceback or hangs (each run is bounded
by a timeout that only guards against a hang)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wan", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def short_error(result: subprocess.CompletedProcess[str], *, lines: int = 1) -> str:
    """The error of a refused command: exit status 2, `error: ...` in at most `lines` lines (a
    settings error lists its one setting under its heading), no traceback."""
    assert result.returncode == 2, result.stdout[-500:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    shown = result.stderr.strip().splitlines()
    assert 1 <= len(shown) <= lines and shown[0].startswith("error: "), result.stderr[-2000:]
    return result.stderr


def write(text: str | bytes) -> Callable[[Path], str]:
    def make(folder: Path) -> str:
        path = folder / "settings.json"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return str(path)

    return make


def expression(body: str) -> Callable[[Path], str]:
    return write(json.dumps({"translation_x": f"0:({body})"}))


PLAN_ERRORS = [
    pytest.param(
        write("[" * 100_000 + "]" * 100_000), 1, "it nests arrays or objects too deeply", id="deep-array"
    ),
    pytest.param(
        write('{"prompts": ' + '{"a": ' * 5000 + "1" + "}" * 5001),
        1,
        "it nests arrays or objects too deeply",
        id="deep-object",
    ),
    pytest.param(lambda folder: "/dev/zero", 1, "/dev/zero: is not a regular file", id="dev-zero"),
    pytest.param(lambda folder: str(folder), 1, "is not a regular file", id="a-folder"),
    pytest.param(
        write('{"max_frames": ' + "9" * 5000 + "}"),
        1,
        "it holds a number with more than 100 digits",
        id="digits",
    ),
    pytest.param(write(b'{"prompts": {"0": "caf\xe9"}}'), 1, "is not UTF-8 text", id="latin-1"),
    pytest.param(write('{"fps": NaN}'), 2, "fps: must be a number", id="nan"),
    pytest.param(write('{"fps": -Infinity}'), 2, "fps: must be a number", id="infinity"),
    pytest.param(
        write(json.dumps({"init_image": "/etc/\x00passwd"})), 2, "must be a path without NUL", id="nul-path"
    ),
    pytest.param(
        write(json.dumps({"movement": [1, 2]})),
        2,
        'movement: a settings group; give an object such as {"mode": "append"} or the flat keys movement_*',
        id="group-not-object",
    ),
    pytest.param(expression("9**" * 2000 + "9"), 2, "translation_x", id="power-tower"),
    pytest.param(expression("+".join(["sin(t)"] * 1000)), 2, "translation_x", id="6kb-sum"),
    pytest.param(expression("(" * 3000 + "t" + ")" * 3000), 2, "translation_x", id="6kb-parens"),
]


@pytest.mark.parametrize(("make", "lines", "expected"), PLAN_ERRORS)
def test_plan_of_hostile_settings_is_a_short_error(tmp_path, make, lines, expected):
    """d1b0a49: deep nesting ended in RecursionError's traceback, /dev/zero was read until memory
    ran out, a 5,000-digit number printed Python's advice to raise sys.set_int_max_str_digits, and
    a group name given a list was an "unknown setting"."""
    assert expected in short_error(run("plan", make(tmp_path)), lines=lines)


def test_a_utf16_settings_file_is_read(tmp_path):
    """Windows editors save UTF-16 with a byte-order mark; d1b0a49 refused it as not UTF-8."""
    path = tmp_path / "settings.json"
    path.write_bytes(json.dumps({"max_frames": 20, "prompts": {"0": "a forest"}}).encode("utf-16"))
    result = run("plan", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output_frames"] == 20


def test_a_huge_number_in_set_is_a_short_error():
    """d1b0a49 printed Python's advice to raise sys.set_int_max_str_digits."""
    result = run("settings", "--set", "max_frames=" + "9" * 5000)
    assert "max_frames: must be a whole number" in short_error(result, lines=2)


def test_output_that_nobody_reads_ends_quietly():
    """`python -m wan settings --list | head -1`: the reader is gone before the command writes
    (deterministically so: our end of the pipe is closed at once). d1b0a49 printed BrokenPipeError's
    traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wan", "settings", "--list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    process.stdout.close()
    _, errors = process.communicate(timeout=120)
    assert process.returncode in (0, 141, -13), errors  # -13: ended by SIGPIPE, as `head` expects
    assert b"Traceback" not in errors and b"Error" not in errors, errors


def test_output_read_one_line_then_dropped_ends_quietly():
    """The same with `| head -1` on a long output: one line is read, then the reader goes away
    while the command is still writing."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wan", "schedule", "0:(t)", "--frames", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout.readline() == b"0\t0\n"
    process.stdout.close()
    _, errors = process.communicate(timeout=120)
    assert process.returncode in (0, 141, -13), errors
    assert b"Traceback" not in errors and b"Error" not in errors, errors


def test_models_lists_the_tiny_enhancer_and_download_sizes(tmp_path):
    """d1b0a49 listed no tiny enhancer and, for the enhancers, no download sizes."""
    result = run("models", "--models-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    tiny = next(line for line in lines if line.split()[:1] == ["tiny-qwen"])
    assert tiny.split()[1:5] == ["tiny", "built", "on", "first"]  # no size for a model built here
    qwen = next(line for line in lines if line.split()[:1] == ["qwen2.5-1.5b"])
    assert "3.9 GB" in qwen and "download 2.9 GB" in qwen
    listing = json.loads(run("models", "--json", "--models-dir", str(tmp_path)).stdout)
    enhancer = next(row for row in listing["enhancers"] if row["id"] == "tiny-qwen")
    assert enhancer["tiny"] and not enhancer["present"]


def test_generate_with_unloadable_weights_names_the_folder_in_one_line(tmp_path):
    """A folder that says it is a WanVACEPipeline but whose weights are not weights: d1b0a49
    showed diffusers' OSError with its traceback."""
    pytest.importorskip("diffusers")
    from wan.models.tiny import ensure_tiny_model

    model = ensure_tiny_model("tiny", tmp_path / "model")
    for weights in model.rglob("*.safetensors"):
        weights.write_bytes(b"\x00garbage, not safetensors" * 100)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"max_frames": 17, "W": 64, "H": 64, "clip_frames": 17, "steps": 1}))
    result = run(
        "generate", str(settings), "--model", str(model), "--out", str(tmp_path / "run"), timeout=180
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    error = result.stderr.strip().splitlines()[-1]  # after the progress lines
    assert error.startswith(f"error: cannot load the model in {model}: its files are damaged")
    assert "WanVACEPipeline" in error


def test_debug_shows_the_traceback_of_an_error_the_user_can_fix(tmp_path):
    """d1b0a49 had no --debug (the argument parser refused it)."""
    missing = str(tmp_path / "missing.json")
    assert "cannot be read" in short_error(run("plan", missing))
    debugged = run("--debug", "plan", missing)
    assert (
        debugged.returncode == 1 and "Traceback" in debugged.stderr and "SettingsFileError" in debugged.stderr
    )


@pytest.mark.parametrize("seed", ["4294967296", "-1", "9" * 5000, "\u0663"])
def test_a_seed_out_of_range_is_refused_by_the_argument_parser(seed):
    """d1b0a49 took any integer int() reads as the seed: 4294967296, -1, 5,000 digits (with
    Python's advice text) and '٣' (as 3)."""
    result = run("plan", str(ROOT / "examples" / "deforum_settings.txt"), "--seed", seed)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--seed: must be a whole number from 0 to 4294967295" in result.stderr
    assert len(result.stderr) < 1000  # the 5,000 digits are not repeated


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--device", "cuda:7"], "device 'cuda:7' is not available on this machine"),
        (["--device", "warp-drive"], "--device: 'warp-drive' is not a torch device"),
        (["--model", "t2v-1.3b"], "is not on this machine"),
    ],
)
def test_generate_checks_the_device_and_the_model_before_it_makes_the_run_folder(
    tmp_path, arguments, expected
):
    """d1b0a49 made the run folder (plan.json, settings.json) first and then failed on a device
    this machine does not have or a model that is not here, leaving a folder that looked like a
    run to resume."""
    pytest.importorskip("torch")
    import torch

    if torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"max_frames": 17, "W": 64, "H": 64, "clip_frames": 17, "steps": 1}))
    common = ["--models-dir", str(tmp_path / "models"), "--out", str(tmp_path / "run")]
    result = run("generate", str(settings), *common, *arguments, timeout=180)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert expected in result.stderr
    assert not (tmp_path / "run").exists()
