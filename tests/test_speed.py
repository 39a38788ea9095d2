"""Speed: the FLOP formula, the speed presets and their resolution per device, and each
acceleration applied to the tiny random models on the CPU.

On the CPU only PyTorch's native attention runs, and regional torch.compile is checked for its
wiring (which blocks are compiled, with which options) with torch.compile replaced by a recorder:
a real compile of even the tiny model takes longer than this whole file should."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wan.catalog.models import MODELS
from wan.config import SPEED_PRESETS, SettingsError, SpeedOptions, config_from_dict
from wan.models.architectures import TRANSFORMER_CONFIGS
from wan.models.flops import transformer_flops
from wan.models.speed import DeviceInfo, resolve_speed
from wan.plan import create_plan

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from wan.models.acceleration import apply_speed, prepare_weights  # noqa: E402
from wan.models.architectures import build_random_transformer, transformer_inputs  # noqa: E402
from wan.models.caching import StepCache, fold_vace_hints  # noqa: E402
from wan.models.tiny import build_tiny_pipeline, tiny_transformer_config  # noqa: E402

CPU = DeviceInfo("cpu", "cpu")
H100 = DeviceInfo("cuda", "NVIDIA H100 80GB HBM3", (9, 0), triton=True, torchao=True)
A100 = DeviceInfo("cuda", "NVIDIA A100-SXM4-80GB", (8, 0), triton=True, torchao=True)
# Lossless paths must reproduce stock diffusers to float32 rounding; on the CPU they are the
# same kernels in the same order, so in fact exactly.
LOSSLESS_ATOL = 1e-6


# -- the FLOP formula ---------------------------------------------------------------------------


def test_flop_formula_gives_the_published_figures_at_81_frames_480p():
    t2v = transformer_flops(TRANSFORMER_CONFIGS["t2v-1.3b"], 81, 480, 832)
    vace = transformer_flops(TRANSFORMER_CONFIGS["vace-1.3b"], 81, 480, 832)
    assert t2v.tokens == 21 * 30 * 52
    assert t2v.total == pytest.approx(2.83e14, rel=2e-3)
    assert vace.total == pytest.approx(4.27e14, rel=2e-3)
    assert t2v.attention_share == pytest.approx(0.70, abs=0.01)
    # 50 steps with guidance at 800 TFLOP/s: the floor the issue states
    assert 100 * t2v.total / 800e12 == pytest.approx(35, abs=0.5)
    assert 100 * vace.total / 800e12 == pytest.approx(53, abs=0.5)


@pytest.mark.parametrize("kind", ["t2v", "vace", "i2v"])
def test_flop_formula_equals_pytorchs_count_of_the_real_modules(kind):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    config = tiny_transformer_config(kind)
    model = build_random_transformer(config, device="cpu", dtype=torch.float32)
    inputs = transformer_inputs(config, frames=9, height=32, width=48, device="cpu", dtype=torch.float32)
    # the math kernel is plain matmuls, which the counter sees (the fused CPU kernel it does not)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(**inputs)
    assert transformer_flops(config, 9, 32, 48).total == counter.get_total_flops()


def test_real_architectures_have_the_registry_parameter_counts():
    from accelerate import init_empty_weights

    from wan.models.architectures import transformer_class

    for model_id, config in TRANSFORMER_CONFIGS.items():
        with init_empty_weights():
            model = transformer_class(config)(**config)
        assert sum(p.numel() for p in model.parameters()) == MODELS[model_id].transformer_params, model_id


# -- presets and their resolution ---------------------------------------------------------------


def test_a_bad_preset_name_names_the_setting_and_the_allowed_values():
    with pytest.raises(SettingsError) as caught:
        config_from_dict({"speed_preset": "turbo"})
    assert "speed_preset: must be one of quality, fast, fastest, lightx2v, causvid (got 'turbo')" in str(
        caught.value
    )
    assert "lightx2v, causvid" in SpeedOptions.specs()[0].check.describe()
    with pytest.raises(SettingsError, match="speed_cache: must be one of"):
        SpeedOptions(cache="teacache")


def test_every_preset_validates_and_resolves_on_cpu_and_gpus(tmp_path):
    lora = tmp_path / "distill.safetensors"
    lora.write_bytes(b"")
    for name, preset in SPEED_PRESETS.items():
        speed = SpeedOptions(preset=name, lora=str(lora) if preset.needs_lora else "")
        config, _ = config_from_dict({"speed": speed.values()})
        assert config.speed == speed
        for device in (CPU, H100, A100):
            resolved = resolve_speed(speed, device, offload="none", kind="vace")
            assert resolved.preset == name and resolved.lossless == preset.lossless
            assert resolved.cache == preset.cache
            assert resolved.attention == ("native" if device is CPU else "fastest")
            assert resolved.compile == (device is not CPU)


def test_resolution_follows_the_device_and_the_memory_preset():
    quality = SpeedOptions()
    assert resolve_speed(quality, CPU, offload="none", kind="vace").to_dict() == {
        "preset": "quality",
        "lossless": True,
        "attention": "native",
        "compile": False,
        "cache": "none",
        "cache_threshold": None,
        "fp8": "off",
        "lora": "",
        "notes": [],
    }
    grouped = resolve_speed(quality, H100, offload="group", kind="vace")
    assert not grouped.compile and "group offloading" in grouped.notes[0]
    assert not resolve_speed(quality, DeviceInfo("cuda", "x", (9, 0)), offload="none", kind="t2v").compile
    assert resolve_speed(SpeedOptions(compile="regional"), CPU, offload="none", kind="vace").compile
    fastest = SpeedOptions(preset="fastest")
    assert resolve_speed(fastest, H100, offload="none", kind="vace").fp8 == "torchao"
    on_a100 = resolve_speed(fastest, A100, offload="none", kind="vace")
    assert on_a100.fp8 == "off" and "compute capability 8.9" in on_a100.notes[0]
    offloaded = resolve_speed(fastest, H100, offload="model", kind="vace")
    assert offloaded.fp8 == "off" and "resident on the GPU" in offloaded.notes[0]
    assert resolve_speed(fastest, H100, offload="none", kind="vace").cache_threshold == 0.1
    mag = resolve_speed(SpeedOptions(preset="fast", cache="mag"), H100, offload="none", kind="t2v")
    assert mag.cache_threshold == 0.06 and not mag.compile


@pytest.mark.parametrize(
    ("speed", "device", "kind", "message"),
    [
        (SpeedOptions(attention="flash"), CPU, "vace", "speed_attention: flash needs a CUDA GPU"),
        (
            SpeedOptions(fp8="torchao"),
            A100,
            "vace",
            "speed_fp8: fp8 compute needs a GPU of compute capability",
        ),
        (SpeedOptions(fp8="torchao"), CPU, "vace", "speed_fp8"),
        (SpeedOptions(cache="sea"), H100, "vace", "speed_cache: sea works with text-to-video models only"),
    ],
)
def test_what_cannot_run_on_a_device_is_a_clear_error(speed, device, kind, message):
    with pytest.raises(ValueError, match=message):
        resolve_speed(speed, device, offload="none", kind=kind)


def test_settings_that_do_not_go_together_name_their_keys(tmp_path):
    cases = {
        "speed_cache_threshold": {"speed_cache": "taylorseer", "speed_cache_threshold": 0.1},
        "speed_lora": {"speed_preset": "distilled"},
        "speed_cache": {"speed_cache": "sea", "model": "vace-1.3b"},
    }
    for key, settings in cases.items():
        with pytest.raises(SettingsError) as caught:
            config_from_dict(settings)
        assert [error.key for error in caught.value.errors] == [key]
    weights = tmp_path / "lora.bin"
    weights.write_bytes(b"")
    with pytest.raises(SettingsError, match=r"speed_lora: must be a LoRA file \(\.safetensors\)"):
        config_from_dict({"speed_lora": str(weights)})
    for key in ("speed_lora", "init_image"):  # "~name" of a user this machine does not have
        with pytest.raises(SettingsError, match=f"{key}: no such file"):
            config_from_dict({key: "~no-such-user-here/a.safetensors"})
    assert config_from_dict({"speed_cache": "sea", "model": "t2v-1.3b"})[0].speed.cache == "sea"


def test_lossy_presets_change_the_plan_only_where_the_settings_leave_it_open(tmp_path):
    lora = tmp_path / "lightx2v-4step.safetensors"
    lora.write_bytes(b"")
    base = {"max_frames": 17, "seed": 1}
    assert create_plan(config_from_dict(base)[0]).steps == 50
    assert create_plan(config_from_dict(base | {"speed_preset": "fastest"})[0]).steps == 30
    assert create_plan(config_from_dict(base | {"speed_preset": "fastest", "steps": 40})[0]).steps == 40
    distilled = create_plan(
        config_from_dict(base | {"speed_preset": "distilled", "speed_lora": str(lora)})[0]
    )
    assert (distilled.steps, distilled.guidance_scale, distilled.flow_shift) == (4, 1.0, 5.0)
    assert distilled.timesteps == (1000, 750, 500, 250)
    assert [(c.loras[-1].file, c.loras[-1].weight) for c in distilled.clips] == [(str(lora), 1.0)]
    causvid = create_plan(config_from_dict(base | {"speed_preset": "causvid", "speed_lora": str(lora)})[0])
    assert (causvid.steps, causvid.guidance_scale, causvid.flow_shift) == (12, 1.0, 3.0)
    assert causvid.timesteps == ()
    assert causvid.clips[0].loras[-1].weight == 0.3
    with pytest.raises(SettingsError, match="steps: speed_preset lightx2v runs its 4 fixed steps"):
        config_from_dict(base | {"speed_preset": "lightx2v", "speed_lora": str(lora), "steps": 8})


# -- applied to the tiny models ------------------------------------------------------------------


def _pipeline(kind: str) -> object:
    pipe = build_tiny_pipeline(kind)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _generate(pipe, steps: int = 6) -> np.ndarray:
    embeddings = torch.randn(2, 1, 512, 32, generator=torch.Generator().manual_seed(1))
    output = pipe(
        prompt_embeds=embeddings[0],
        negative_prompt_embeds=embeddings[1],
        height=64,
        width=64,
        num_frames=17,
        num_inference_steps=steps,
        guidance_scale=5.0,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    )
    return np.asarray(output.frames[0])


def _apply(pipe, speed: SpeedOptions, kind: str, steps: int = 6):
    resolved = resolve_speed(speed, CPU, offload="none", kind=kind)
    prepare_weights(pipe, resolved, torch.float32)
    return apply_speed(pipe, resolved, torch.device("cpu"), tokens=90, steps=steps)


@pytest.mark.parametrize("kind", ["vace", "t2v"])
def test_the_lossless_preset_reproduces_stock_diffusers(kind):
    stock = _generate(_pipeline(kind))
    pipe = _pipeline(kind)
    applied = _apply(pipe, SpeedOptions(), kind)
    assert applied.record()["attention"] == "native" and applied.record()["lossless"]
    with applied.running("cpu"):
        ours = _generate(pipe)
    assert np.abs(ours - stock).max() <= LOSSLESS_ATOL


@pytest.mark.parametrize(
    ("kind", "cache"),
    [
        ("vace", "first_block"),
        ("vace", "mag"),
        ("vace", "taylorseer"),
        ("t2v", "first_block"),
        ("t2v", "mag"),
        ("t2v", "taylorseer"),
        ("t2v", "sea"),
    ],
)
def test_each_step_cache_hooks_the_wan_transformer_and_keeps_the_shape(kind, cache):
    pipe = _pipeline(kind)
    applied = _apply(pipe, SpeedOptions(preset="fast", cache=cache), kind)
    assert pipe.transformer.is_cache_enabled and applied.cache is not None
    runs = 2 if cache == "mag" else 1  # MagCache: a calibration run, then one with its ratios
    for run in range(runs):
        assert applied.record().get("mag_calibration_run", False) == (cache == "mag" and run == 0)
        with applied.running("cpu"):
            frames = _generate(pipe)
        applied.after_clip()
        assert frames.shape == (17, 64, 64, 3) and np.isfinite(frames).all()
    if cache == "mag":
        ratios = pipe.transformer._cache_config.mag_ratios
        assert not applied.cache.calibrating and len(ratios) == 6 and float(ratios[0]) == 1.0


def test_vace_hints_folded_into_the_blocks_change_nothing_but_fix_block_caches():
    config = tiny_transformer_config("vace")
    model = build_random_transformer(config, device="cpu", dtype=torch.float32)
    inputs = transformer_inputs(config, frames=9, height=32, width=48, device="cpu", dtype=torch.float32)
    inputs["control_hidden_states_scale"] = torch.tensor([0.5, 2.0])
    with torch.no_grad():
        stock = model(**inputs)[0]
        assert fold_vace_hints(model)
        assert torch.equal(model(**inputs)[0], stock)  # same additions in the same order
        # First Block Cache with a threshold every step passes: the second call reuses the
        # residual; on the same input it must give the same output (unfolded, each hint counts twice)
        StepCache(model, "first_block", threshold=10.0, steps=2)
        for _ in range(2):
            with model.cache_context("cond"):
                cached = model(**inputs)[0]
            assert (cached - stock).abs().max() < 1e-5


def test_regional_compile_compiles_each_repeated_block(monkeypatch):
    compiled: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        torch.nn.Module,
        "compile",
        lambda module, **options: compiled.append((type(module).__name__, options)),
    )
    pipe = _pipeline("vace")
    applied = _apply(pipe, SpeedOptions(compile="regional"), "vace")
    assert applied.compiled and applied.record()["compile"]
    assert (
        sorted(name for name, _ in compiled) == ["WanTransformerBlock"] * 3 + ["WanVACETransformerBlock"] * 2
    )
    assert all(options == {"fullgraph": True} for _, options in compiled)
    compiled.clear()  # with a step cache, its hooks sit in the blocks: no whole-graph requirement
    _apply(_pipeline("vace"), SpeedOptions(preset="fast", compile="regional"), "vace")
    assert compiled and all(options == {"fullgraph": False} for _, options in compiled)


def test_fp8_storage_is_the_weights_setting_now():
    with pytest.raises(SettingsError) as caught:
        config_from_dict({"speed_fp8": "layerwise"})
    moved = "speed_fp8: fp8 storage (layerwise) is now the weights setting: set weights to fp8"
    assert moved in str(caught.value)
    assert config_from_dict({"weights": "fp8"})[0].weights.format == "fp8"


def test_attention_on_the_cpu_is_native_and_pinned_on_the_model_only():
    from diffusers.models.attention_dispatch import AttentionBackendName, _AttentionBackendRegistry

    from wan.models.attention import candidate_backends, measure_backends, set_backend

    assert candidate_backends("cpu") == ["native"]
    timings = measure_backends("cpu", heads=2, head_dim=8, tokens=64, dtype=torch.float32, repeats=1)
    assert list(timings) == ["native"] and timings["native"] > 0
    model = _pipeline("t2v").transformer
    before = _AttentionBackendRegistry._active_backend
    set_backend(model, "efficient")
    processors = [m.processor for m in model.modules() if hasattr(m, "processor")]
    assert processors and {p._attention_backend for p in processors} == {
        AttentionBackendName._NATIVE_EFFICIENT
    }
    assert _AttentionBackendRegistry._active_backend == before


def test_a_lora_without_peft_is_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    from wan.models.lora import LoraError, read_lora

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a)
    )
    lora = tmp_path / "distill.safetensors"
    lora.write_bytes(b"")
    with pytest.raises(LoraError, match="LoRAs need the peft package"):
        read_lora(_pipeline("t2v"), str(lora))


def test_render_records_the_speed_it_used_and_offloading_works_with_a_cache(tmp_path):
    from wan.render import RenderOptions, RunFolder, render

    config, _ = config_from_dict(
        {"model": "tiny", "W": 64, "H": 64, "steps": 3, "clip_frames": 17, "max_frames": 17, "seed": 7}
        | {"speed_preset": "fast"}
    )
    options = RenderOptions(
        models_dir=str(tmp_path / "models"),
        preview_every=0,
        memory="aggressive",  # group offloading, and a cache on top
        speed=config.speed,
        write_video=False,
        quality_checks=False,
    )
    result = render(create_plan(config), tmp_path / "run", options=options)
    clip = json.loads(RunFolder(result.run_dir).latest().metrics_path.read_text())["clips"][0]
    assert result.metrics["speed_preset"] == "fast"
    assert clip["speed"]["cache"] == "first_block" and clip["speed"]["vace_hints_folded"]
    assert clip["memory_preset"] == "aggressive" and clip["speed"]["attention"] == "native"


def test_generate_rejects_an_unknown_speed_preset(tmp_path, capsys):
    from wan.cli import main

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"max_frames": 17}))
    assert main(["generate", str(settings), "--speed", "turbo", "--out", str(tmp_path / "run")]) == 2
    assert "speed_preset: must be one of quality, fast, fastest, lightx2v, causvid" in capsys.readouterr().err
