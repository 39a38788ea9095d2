"""`python -m wan bench` on the CPU with the tiny models (its JSON has every stage), the real-size
architectures it builds on a GPU (counted on meta tensors), the recommendations, and the GPU
check's runner: budget, limits, a stopped check's worker replaced, skips and the record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wan.bench.checks import Check
from wan.bench.gpu_check import EXTRA_MODULES, carry_command, footer_lines, run_checks
from wan.bench.recommend import memory_advice, recommend
from wan.catalog.models import IMAGE_ENCODER_PARAMS, TEXT_ENCODER_PARAMS, VAE_PARAMS
from wan.models.speed import DeviceInfo
from wan.render.stages import STAGE_ORDER

ROOT = Path(__file__).parent.parent
GIB = 1024**3


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wan", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        },
        timeout=600,
    )


# -- the profile ----------------------------------------------------------------------------------


def test_bench_profiles_every_stage_on_the_cpu_with_a_tiny_stand_in(tmp_path):
    pytest.importorskip("diffusers")
    out, chart = tmp_path / "profile.json", tmp_path / "profile.png"
    done = run(
        "bench", "vace-1.3b", "--size", "64x64", "--frames", "5", "--steps", "2", "--json", str(out),
        "--plot", str(chart), "--set", "fps=24",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    # every stage a render has; "resizing" only runs when the model renders at another size
    assert list(result["stages"]) == [stage for stage in STAGE_ORDER if stage != "resizing"]
    assert result["model"] == "tiny" and result["asked_model"] == "vace-1.3b" and not result["real_size"]
    assert result["steps"] == {"measured": 2, "target": 50, "extrapolated": True}
    assert len(result["step_seconds"]) == 2 and result["stages"]["denoising"]["steps"] == 2
    assert result["size"] == {"width": 64, "height": 64, "frames": 5, "output_frames": 7, "output_fps": 24.0}
    assert result["denoising_seconds"]["target_steps"] > result["denoising_seconds"]["measured"]
    assert result["mfu"] > 0 and result["matmul_peak_flops"] > 0 and result["flop_per_step"] > 0
    assert result["recommendations"]["memory_preset"] == "none"
    assert result["guidance_batching"] == {"enabled": True}
    assert any("stands in for vace-1.3b" in note for note in result["notes"])
    assert any("extrapolated" in note for note in result["notes"])
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "recommended memory preset: none" in done.stdout and "(extrapolated)" in done.stdout


def test_bench_input_errors_are_one_line():
    done = run("bench", "t2v-1.3b", "--size", "64by64")
    assert done.returncode == 2 and "WIDTHxHEIGHT" in done.stderr and "Traceback" not in done.stderr
    done = run("bench")
    assert done.returncode == 2 and "model id" in done.stderr
    done = run("bench", "tiny", "--frames", "6")
    assert done.returncode == 2 and "clip_frames" in done.stderr and "Traceback" not in done.stderr


# -- what a GPU run builds --------------------------------------------------------------------------


def test_the_real_size_encoders_and_vae_have_the_catalogs_parameter_counts():
    torch = pytest.importorskip("torch")
    diffusers = pytest.importorskip("diffusers")
    from transformers import CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel

    from wan.bench.build import CLIP_VIT_H_CONFIG, UMT5_XXL_CONFIG, VAE_CONFIG

    with torch.device("meta"):
        counts = {
            "text": sum(p.numel() for p in UMT5EncoderModel(UMT5Config(**UMT5_XXL_CONFIG)).parameters()),
            "image": sum(
                p.numel() for p in CLIPVisionModel(CLIPVisionConfig(**CLIP_VIT_H_CONFIG)).parameters()
            ),
            "vae": sum(p.numel() for p in diffusers.AutoencoderKLWan(**VAE_CONFIG).parameters()),
        }
    assert counts == {"text": TEXT_ENCODER_PARAMS, "image": IMAGE_ENCODER_PARAMS, "vae": VAE_PARAMS}


# -- recommendations --------------------------------------------------------------------------------


def _result(preset: str, peak_gib: float, vram_gib: float | None = 80, **more) -> dict:
    stages = {"denoising": {"seconds": 1.0, "peak_memory_bytes": int(peak_gib * GIB)}}
    vram = int(vram_gib * GIB) if vram_gib else None
    return {"memory_preset": preset, "vram_total_bytes": vram, "stages": stages, "out_of_memory": [], **more}


@pytest.mark.parametrize(
    ("result", "preset", "words"),
    [
        (_result("none", 1.0, None), "none", "no GPU"),
        (_result("conservative", 12.0, 80), "conservative", "fits"),
        (_result("none", 23.0, 24), "conservative", "over 90%"),
        (_result("conservative", 23.0, 24), "balanced", "over 90%"),
        (_result("balanced", 9.0, 24, transformer_parameters=1_300_000_000), "conservative", "estimated"),
        (_result("aggressive", 4.0, 12, transformer_parameters=14_000_000_000), "aggressive", "would need"),
        (
            _result(
                "aggressive", 4.0, 80, transformer_parameters=1_300_000_000, out_of_memory=["conservative"]
            ),
            "aggressive",
            "would need",
        ),
    ],
)
def test_the_memory_advice_follows_the_measured_peak(result, preset, words):
    chosen, why = memory_advice(result)
    assert chosen == preset and words in why


def test_the_speed_advice_says_whether_fp8_runs_here():
    h100 = DeviceInfo("cuda", "NVIDIA H100", (9, 0), triton=True, torchao=True)
    a100 = DeviceInfo("cuda", "NVIDIA A100", (8, 0), triton=True, torchao=True)
    base = _result("conservative", 10.0) | {"speed": {"attention": "flash", "compile": True}}
    assert recommend(base, h100)["speed_preset"] == "quality"
    assert "fp8 compute available" in " ".join(recommend(base, h100)["speed_notes"])
    assert "no fp8 tensor cores" in " ".join(recommend(base, a100)["speed_notes"])
    assert "attention flash, regional torch.compile on" in recommend(base, a100)["speed_notes"][0]


# -- the GPU check's runner ----------------------------------------------------------------------------

CHECKS_MODULE = """
import time
from wan.bench.checks import check

@check("t_quick", "quick", seconds=30, expected=1, priority=1000)
def quick(context):
    context.facts["seen"] = context.facts.get("seen", 0) + 1
    return [f"- quick on {context.scale.device}, facts {sorted(context.facts)}"]

@check("t_sleepy", "sleeps past its limit", seconds=3, expected=1, priority=1001)
def sleepy(context):
    time.sleep(60)
    return ["never"]

@check("t_after", "runs in a new worker", seconds=30, expected=1, priority=1002)
def after(context):
    return [f"- after: facts {sorted(context.facts)}"]

@check("t_broken", "raises", seconds=30, expected=1, priority=1003)
def broken(context):
    raise ValueError("no such kernel")

@check("t_needs", "needs a missing module", seconds=30, expected=1, needs=("no_such_module_xyz",),
       priority=1004)
def needs(context):
    return ["never"]

@check("t_long", "longer than the budget", seconds=9000, expected=8000, priority=1005)
def long(context):
    return ["never"]
"""


@pytest.fixture
def fake_checks(tmp_path, monkeypatch):
    (tmp_path / "fake_gpu_checks.py").write_text(textwrap.dedent(CHECKS_MODULE))
    monkeypatch.setenv(EXTRA_MODULES, "fake_gpu_checks")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT)]))
    monkeypatch.syspath_prepend(str(tmp_path))
    from wan.bench.checks import registered

    return {name: c for name, c in registered(("fake_gpu_checks",)).items() if name.startswith("t_")}


def test_the_runner_stops_a_check_at_its_limit_and_goes_on_in_a_new_worker(fake_checks):
    pytest.importorskip("torch")
    seen: list[str] = []
    outcomes = run_checks(
        fake_checks.values(), dry_run=True, budget=120, report=lambda o: seen.append(o.check.name)
    )
    status = {o.check.name: (o.status, o.reason) for o in outcomes}
    assert seen == list(fake_checks)  # every check is reported, in order
    assert status["t_quick"] == ("ok", "")
    assert status["t_sleepy"] == ("stopped", "stopped at its 3 s limit")
    assert status["t_after"] == ("ok", "")
    after = next(o for o in outcomes if o.check.name == "t_after")
    assert after.lines == ["- after: facts ['seen']"]  # the first worker's facts reached the second
    assert status["t_broken"] == ("failed", "ValueError: no such kernel")
    assert status["t_needs"] == ("skipped", "needs no_such_module_xyz (not installed)")
    assert status["t_long"][0] == "skipped" and "budget ran short" in status["t_long"][1]
    footer = footer_lines(outcomes, dry_run=True, seconds=10)
    assert footer[1] == "- took 10 s: 1 failed, 2 ok, 2 skipped, 1 stopped"
    assert "unmeasured" in footer[2]


def test_the_check_command_appends_a_dated_record(fake_checks, tmp_path):
    results = tmp_path / "RESULTS.md"
    done = run("bench", "--gpu-check", "--dry-run", "--checks", "t_quick,t_needs", "--results", str(results))
    assert done.returncode == 0, done.stderr
    text = results.read_text()
    assert text.startswith("# Benchmark results") and "## GPU check (dry run" in text
    assert "### t_quick: quick (" in text and "- quick on cpu" in text
    assert "### t_needs: needs a missing module — skipped: needs no_such_module_xyz" in text
    assert "GPU: unmeasured" in text
    done = run("bench", "--gpu-check", "--checks", "nope", "--results", "-")
    assert done.returncode == 2 and "unknown nope" in done.stderr


def test_every_registered_check_is_listed_with_its_limit():
    done = run("bench", "--gpu-check", "--list-checks")
    assert done.returncode == 0, done.stderr
    for name in ("environment", "t2v_presets", "vace_presets", "memory_presets", "aggressive_14b", "fp8"):
        assert f"{name} " in done.stdout
    assert all("limit" in line for line in done.stdout.splitlines())


def test_a_check_needs_a_gpu_unless_it_is_a_dry_run(fake_checks):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = run("bench", "--gpu-check", "--checks", "t_quick", "--results", "-")
    assert done.returncode == 2 and "no CUDA GPU here" in done.stderr


def test_the_carry_command_lists_the_wheels_here_without_torch():
    command = carry_command("3.11")
    assert command.startswith("pip download --no-deps --only-binary=:all: --python-version 3.11")
    assert "diffusers==" in command and "transformers==" in command and " torch==" not in command
    assert "opencv" not in command and "opencv-python-headless==" in carry_command(optional=True)


def test_a_check_is_a_named_function_with_a_limit():
    check = Check("x", "x", lambda context: [], seconds=200, expected=100)
    assert check.limit(dry_run=True) == 60 and check.limit(dry_run=False) == 200
    assert check.estimate(dry_run=True) == 5 and check.estimate(dry_run=False) == 100  # 5 % in a dry run


# -- the checks of other work: quantized weights, GGUF, LoRAs (dry run: tiny sizes on the CPU) -------


def _dry_run(name: str) -> list[str]:
    """One registered check's lines from a dry-run context, run in this process."""
    from wan.bench.checks import Context, registered

    return registered()[name].run(Context(dry_run=True))


def _row(lines: list[str], first_cell: str) -> list[str]:
    """The cells of the table row whose first cell is `first_cell`."""
    (row,) = [line for line in lines if line.startswith(f"| {first_cell} |")]
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_the_weights_check_loads_each_format_through_the_projects_loader():
    pytest.importorskip("torchao")
    lines = _dry_run("weights")
    assert (
        "tiny-t2v-2experts's transformer (2 blocks" in lines[0]
        and "through wan.models.quantization" in lines[0]
    )
    bf16, fp8, int8_torchao = _row(lines, "bf16"), _row(lines, "fp8"), _row(lines, "int8_torchao")
    assert float(bf16[-1]) == 0  # the reference
    # fp8 storage and int8 weight-only round the weights: a difference, but far below the output itself
    for row in (fp8, int8_torchao):
        assert 1e-5 < float(row[-1]) < 0.1 and float(row[4]) > 0
    for name in ("int8", "nf4"):  # bitsandbytes: CUDA only
        assert (
            _row(lines, name)[1].startswith("not run: weights: ") and "CUDA GPUs only" in _row(lines, name)[1]
        )
    assert (
        lines[-1]
        == "- bitsandbytes int8 and nf4 (diffusers runs them on CUDA only): CUDA only, not run in the dry run"
    )


def test_a_sliced_transformer_keeps_its_width_and_extrapolates_to_the_whole_expert(tmp_path):
    pytest.importorskip("torch")
    from wan.bench.build import config_parameters, sliced_config
    from wan.bench.gpu import Scale
    from wan.bench.weights import save_random_transformer
    from wan.catalog import model_spec
    from wan.models.architectures import transformer_config

    full = transformer_config("t2v-a14b")
    sliced = sliced_config(full, 4)
    assert sliced["num_layers"] == 4 and {k: v for k, v in sliced.items() if k != "num_layers"} == {
        k: v for k, v in full.items() if k != "num_layers"
    }
    assert sliced_config(transformer_config("vace-14b"), 6)["vace_layers"] == [0, 5]
    # every block the same: the expert is what is outside the blocks plus 40 of them (the catalog's count)
    one, two = config_parameters(sliced_config(full, 1)), config_parameters(sliced_config(full, 2))
    block, outside = two - one, 2 * one - two
    assert config_parameters(full) == outside + 40 * block == model_spec("t2v-a14b").transformer_params
    assert config_parameters(sliced) == outside + 4 * block and 1.6e9 < outside + 4 * block < 1.65e9
    saved = save_random_transformer(Scale.tiny(1, 64, 64), "t2v-a14b", tmp_path, blocks=1)
    assert (
        saved.blocks == 1 and saved.full_blocks == 2 and (tmp_path / "transformer" / "config.json").is_file()
    )
    assert "1 of the 2 blocks of tiny-t2v-2experts's transformer" in saved.description()
    assert "time x 2/1 blocks" in saved.description()


def test_the_gguf_check_writes_a_file_in_the_published_layout_and_loads_it():
    pytest.importorskip("gguf")
    lines = _dry_run("gguf")
    gguf = _row(lines, "gguf")
    assert float(gguf[-1]) < 1e-2  # Q8_0 rounding of the bf16 output
    (note,) = [line for line in lines if line.startswith("- GGUF: ")]
    assert "tensors in Q8_0" in note and "in F32" in note and not note.startswith("- GGUF: 0 tensors in Q8_0")


def test_the_lora_checks_compare_fused_adapter_and_the_speed_paths():
    pytest.importorskip("peft")
    lines = _dry_run("loras")
    assert "a random LoRA of rank 2 on every attention and feed-forward layer" in lines[0]
    results = {
        line.split("|")[1].strip(): line.split("|")[2].strip() for line in lines if line.startswith("| ")
    }
    assert all(results[f"forward, {name}"].endswith(" s") for name in ("stock", "fused", "adapter"))
    assert float(results["fused against adapter, largest relative difference"]) < 1e-5  # float32 on the CPU
    assert float(results["the LoRA changes the output (relative)"]) > 1e-4
    assert results["adapter + fp8 storage (layerwise casting)"].startswith("runs: ")
    assert results["adapter + torchao fp8 compute"].startswith("not run: ")
    assert results["adapter + group offload (leaf level, CUDA streams)"] == "not run: needs CUDA"
    assert (
        results["fixed steps on cpu: timesteps; same frames for one seed"]
        == "[1000.0, 937.5, 833.3, 625.0]; True"
    )
    compiled = _dry_run("lora_compile")
    results = {
        line.split("|")[1].strip(): line.split("|")[2].strip() for line in compiled if line.startswith("| ")
    }
    assert float(results["compiled against uncompiled, largest relative difference"]) == 0  # eager backend
    assert "eager backend" in " ".join(results) and "Inductor" in compiled[-1]


def test_the_gpu_check_lists_the_checks_of_other_work_in_budget_order():
    from wan.bench.checks import registered

    names = list(registered())
    assert {"weights", "gguf", "loras", "lora_compile"} <= set(names)
    # what matters most first: the speed and memory checks, then quantized weights and LoRAs
    assert (
        names.index("aggressive_14b") < names.index("weights") < names.index("loras") < names.index("profile")
    )
    from wan.bench.gpu_check import WHEELS

    assert {"bitsandbytes", "gguf", "peft"} <= set(WHEELS)
