"""Quantized weights: the `weights` settings and their rules, a tiny GGUF file written with the gguf
package loading through diffusers' single-file loader and rendering (one expert and two),
torchao int8 on the CPU, fp8 storage on both experts, what needs CUDA failing clearly here, and
the memory estimates the auto preset picks a combination by."""

from __future__ import annotations

import numpy as np
import pytest

from wan.catalog import MODELS
from wan.config import config_from_dict
from wan.config.memory import MEMORY_PRESETS
from wan.models.memory import AUTO_WEIGHTS, ClipSize, choose_placement, estimate_gpu_gb, memory_table
from wan.plan import create_plan

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
gguf = pytest.importorskip("gguf")

from wan.models import loading  # noqa: E402
from wan.models.gguf_files import original_name, write_gguf  # noqa: E402
from wan.models.quantization import QuantizationUnavailable, Weights, check_weights  # noqa: E402
from wan.models.resolve import resolve_model  # noqa: E402
from wan.models.tiny import build_tiny_pipeline  # noqa: E402
from wan.render import RenderOptions, RunFolder, render  # noqa: E402


@pytest.fixture
def models_dir(tiny_models_dir):
    return tiny_models_dir


def tiny(model: str, **overrides):
    settings = {
        "model": model,
        "W": 64,
        "H": 64,
        "fps": 16,
        "steps": 3,
        "seed": 7,
        "max_frames": 17,
        "clip_frames": 17,
        "prompts": {"0": "a misty forest"},
    }
    return config_from_dict(settings | overrides)[0]


def run(config, models_dir, folder):
    options = RenderOptions.of(config, models_dir=str(models_dir), preview_every=0, memory="none")
    return render(create_plan(config), folder, options=options)


@pytest.fixture
def loaded(monkeypatch):
    """The pipelines a render loads (the real load_pipeline runs)."""
    pipes = []
    original = loading.load_pipeline

    def keep(*args, **kwargs):
        pipes.append(original(*args, **kwargs))
        return pipes[-1]

    monkeypatch.setattr("wan.render.engine.load_pipeline", keep)
    return pipes


# -- settings -------------------------------------------------------------------------------------


def test_the_weights_settings_and_their_rules(tmp_path, errors_of):
    high, low = tmp_path / "high.gguf", tmp_path / "low.gguf"
    high.write_bytes(b"")
    low.write_bytes(b"")
    config = config_from_dict({"weights": "gguf", "weights_file": str(high)})[0]
    assert (config.weights.format, config.weights.files) == ("gguf", (str(high),))
    assert config_from_dict({})[0].weights.format == "auto"
    assert "needs the transformer's .gguf file" in errors_of({"weights": "gguf"})["weights_file"]
    assert (
        "is used with weights gguf only"
        in errors_of({"weights": "nf4", "weights_file": str(high)})["weights_file"]
    )
    assert (
        "give the low-noise expert's .gguf file too"
        in errors_of({"model": "t2v-a14b", "weights": "gguf", "weights_file": str(high)})["weights_file_2"]
    )
    with_i2v = {
        "model": "t2v-1.3b",
        "i2v_model": "i2v-14b-480p",
        "weights": "gguf",
        "weights_file": str(high),
    }
    assert "the I2V model would need its own" in errors_of(with_i2v)["weights"]
    assert (
        "has one transformer"
        in errors_of({"weights": "gguf", "weights_file": str(high), "weights_file_2": str(low)})[
            "weights_file_2"
        ]
    )
    assert (
        "must be a GGUF file (.gguf)"
        in errors_of({"weights": "gguf", "weights_file": __file__})["weights_file"]
    )
    assert (
        "must be one of auto, bf16, fp8, int8, nf4, int8_torchao, gguf"
        in errors_of({"weights": "q4"})["weights"]
    )
    assert "cannot run on weights nf4" in errors_of({"weights": "nf4", "speed_fp8": "torchao"})["speed_fp8"]


def test_a_gguf_file_outside_the_models_folder_is_refused_to_callers(tmp_path, errors_of):
    from wan.config import FileAccess, file_access

    outside = tmp_path / "elsewhere.gguf"
    outside.write_bytes(b"")
    with file_access(FileAccess.restricted(models=[tmp_path / "models"])):
        message = errors_of({"weights": "gguf", "weights_file": str(outside)})["weights_file"]
    assert message.startswith("not allowed")


def test_what_needs_cuda_or_a_package_is_a_clear_error_before_anything_loads(models_dir, tmp_path):
    with pytest.raises(
        QuantizationUnavailable, match=r"weights: nf4 \(bitsandbytes\) runs on CUDA GPUs only"
    ):
        check_weights(Weights("nf4"), "cpu")
    with pytest.raises(QuantizationUnavailable, match="no such GGUF file"):
        check_weights(Weights("gguf", (str(tmp_path / "gone.gguf"),)), "cpu")
    with pytest.raises(QuantizationUnavailable, match="int8"):
        run(tiny("tiny-t2v", weights="int8"), models_dir, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


# -- GGUF -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["t2v", "i2v", "vace", "ti2v"])
def test_original_names_convert_back_to_the_diffusers_names(kind):
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    state = build_tiny_pipeline(kind).transformer.state_dict()
    original = {original_name(key): value for key, value in state.items()}
    assert "head.modulation" in original and "blocks.0.self_attn.q.weight" in original
    assert set(convert_wan_transformer_to_diffusers(original)) == set(state)


def test_a_tiny_gguf_file_loads_through_diffusers_single_file_loader(models_dir, tmp_path):
    from diffusers import WanTransformer3DModel

    from wan.models.quantization import load_gguf_experts

    folder = resolve_model("tiny-t2v", models_dir=models_dir).path
    original = WanTransformer3DModel.from_pretrained(folder, subfolder="transformer")
    path = tmp_path / "tiny.gguf"
    counts = write_gguf(original, path)
    assert counts["Q8_0"] >= 4 and counts["F32"] > 0
    (loaded,) = load_gguf_experts(folder, Weights("gguf", (str(path),)), torch.float32).values()
    quantized = [p for p in loaded.parameters() if type(p).__name__ == "GGUFParameter"]
    assert quantized  # kept quantized, dequantized layer by layer
    inputs = {
        "hidden_states": torch.randn(1, 16, 3, 8, 8, generator=torch.Generator().manual_seed(0)),
        "timestep": torch.tensor([500]),
        "encoder_hidden_states": torch.randn(1, 7, 32, generator=torch.Generator().manual_seed(1)),
        "return_dict": False,
    }
    with torch.no_grad():
        expected, got = original(**inputs)[0], loaded(**inputs)[0]
    difference = (expected - got).abs().max().item()
    assert 0 < difference < 0.05 * expected.abs().mean().item()  # Q8_0 rounding, no more


def test_a_two_expert_model_renders_from_two_gguf_files(models_dir, tmp_path, loaded):
    from diffusers import WanTransformer3DModel

    folder = resolve_model("tiny-t2v-2experts", models_dir=models_dir).path
    files = []
    for subfolder in ("transformer", "transformer_2"):
        files.append(tmp_path / f"{subfolder}.gguf")
        write_gguf(WanTransformer3DModel.from_pretrained(folder, subfolder=subfolder), files[-1])
    config = tiny(
        "tiny-t2v-2experts", weights="gguf", weights_file=str(files[0]), weights_file_2=str(files[1])
    )
    result = run(config, models_dir, tmp_path / "run")
    (pipe,) = loaded
    for expert in (pipe.transformer, pipe.transformer_2):
        assert any(type(p).__name__ == "GGUFParameter" for p in expert.parameters())
    assert RunFolder(result.run_dir).latest().clip_metadata(0)["weights"] == "gguf"
    assert result.metrics["placement"] == "gguf + none"


# -- torchao int8 and fp8 storage -----------------------------------------------------------------


def test_int8_torchao_renders_on_the_cpu(models_dir, tmp_path, loaded):
    pytest.importorskip("torchao")
    result = run(tiny("tiny-t2v", weights="int8_torchao"), models_dir, tmp_path / "run")
    (pipe,) = loaded
    weight = pipe.transformer.blocks[0].attn1.to_q.weight
    assert "Int8" in type(weight).__name__
    frames = RunFolder(result.run_dir).latest().read_model_frames(range(17))
    assert frames.shape == (17, 64, 64, 3) and frames.std() > 0


def test_fp8_storage_applies_to_both_experts():
    from wan.models.acceleration import apply_speed, prepare_weights
    from wan.models.speed import DeviceInfo, resolve_speed

    pipe = build_tiny_pipeline("t2v", experts=2)
    resolved = resolve_speed(
        config_from_dict({})[0].speed, DeviceInfo("cpu", "cpu"), offload="none", kind="t2v"
    )
    prepare_weights(pipe, resolved, torch.float32, Weights("fp8"))
    apply_speed(pipe, resolved, torch.device("cpu"), tokens=16, steps=2)
    for expert in (pipe.transformer, pipe.transformer_2):
        dtypes = {p.dtype for name, p in expert.named_parameters() if name.endswith("to_q.weight")}
        assert dtypes == {torch.float8_e4m3fn}
    output = pipe(
        prompt="a forest", height=32, width=32, num_frames=5, num_inference_steps=2, output_type="np"
    )
    assert np.isfinite(np.asarray(output.frames)).all()


# -- memory ---------------------------------------------------------------------------------------


def test_auto_fits_a_14b_model_into_12_to_16_gb_with_nf4():
    # Wan 2.2 A14B: one expert on the GPU at a time (model offload); Wan 2.1 14B fits whole
    for model, offload in (("t2v-a14b", "model"), ("i2v-a14b", "model"), ("t2v-14b", "none")):
        for vram in (12, 16):
            placement = choose_placement("auto", "auto", MODELS[model], vram)
            assert (placement.weights, placement.preset.offload) == ("nf4", offload), (model, vram)
            assert placement.estimate_gb <= vram * 0.92
    # the estimate behind it: one nf4 expert (4.127 bits a weight) and one block's activations
    estimate = estimate_gpu_gb(MODELS["t2v-a14b"], "nf4", "model", ClipSize(81, 480, 832))
    assert estimate.weights == pytest.approx(14_288_491_584 * 4.127 / 8 / 1024**3)
    assert estimate.total == pytest.approx(9.96, abs=0.01)
    # 12 GB cannot hold the 10.6 GB text encoder next to the rest: prompts are encoded on the CPU
    assert choose_placement("auto", "auto", MODELS["t2v-a14b"], 12).preset.encode_on_cpu
    assert not choose_placement("auto", "auto", MODELS["t2v-a14b"], 16).preset.encode_on_cpu


def test_auto_prefers_quality_then_keeps_everything_on_the_gpu_when_it_fits():
    pick = lambda model, vram, **kw: choose_placement("auto", "auto", MODELS[model], vram, **kw)  # noqa: E731
    assert (pick("vace-1.3b", 12).weights, pick("vace-1.3b", 12).preset.name) == ("bf16", "conservative")
    assert (pick("t2v-a14b", 80).weights, pick("t2v-a14b", 80).preset.name) == ("bf16", "conservative")
    assert (pick("t2v-a14b", 40).weights, pick("t2v-a14b", 40).preset.name) == ("bf16", "balanced")
    assert pick("t2v-a14b", 24).weights == "int8_torchao"
    assert pick("t2v-a14b", 24, usable_formats=("bf16", "int8", "nf4")).weights == "int8"
    # nothing lighter fits: layers are streamed in bf16
    assert (pick("t2v-a14b", 8).weights, pick("t2v-a14b", 8).preset.name) == ("bf16", "aggressive")
    assert pick("t2v-a14b", 12, usable_formats=("bf16",)).preset.name == "aggressive"
    # no GPU: everything as it is; what the settings say is kept
    assert choose_placement("auto", "auto", MODELS["t2v-a14b"], None).preset == MEMORY_PRESETS["none"]
    explicit = choose_placement("balanced", "int8", MODELS["t2v-a14b"], 12)
    assert (explicit.weights, explicit.preset.name) == ("int8", "balanced")
    assert AUTO_WEIGHTS[0] == "bf16" and "gguf" not in AUTO_WEIGHTS
    # a GGUF file's own size is what its weights need
    small = choose_placement("auto", "gguf", MODELS["t2v-14b"], 16, gguf_bytes=int(8.5 * 1024**3))
    large = choose_placement("auto", "gguf", MODELS["t2v-14b"], 16, gguf_bytes=15 * 1024**3)
    assert (small.preset.name, large.preset.name) == ("conservative", "aggressive")


def test_the_models_listing_shows_the_memory_of_each_weights_format(capsys):
    from wan.cli import main

    table = memory_table(MODELS["t2v-a14b"])
    assert list(table) == ["bf16", "fp8", "int8", "nf4", "q8_0", "q4_k_m"]
    assert table["bf16"]["weights"] == pytest.approx(2 * 26.6, abs=0.1)
    assert table["nf4"]["offload"] == pytest.approx(10.0, abs=0.05)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "t2v-a14b           t2v   x2" in out and "nf4 13.7: 17.3 | 10.0" in out
    assert "24 fps, up to 121 frames, 1280x704 (multiples of 32)" in out
