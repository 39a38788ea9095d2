"""Model registry, resolution (folder, models dir, HF cache, download) and memory presets."""

from __future__ import annotations

import json

import pytest

from wan.catalog import MODELS
from wan.catalog.models import IMAGE_ENCODER_PARAMS, TEXT_ENCODER_PARAMS, VAE_PARAMS
from wan.config import MEMORY_PRESETS, SettingsError, WanConfig, preset_for_vram
from wan.models.memory import resolve_memory
from wan.models.resolve import ModelNotFoundError, default_models_dir, is_present, resolve_model


def pipeline_folder(path, class_name="WanVACEPipeline"):
    path.mkdir(parents=True)
    (path / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    return path


def test_explicit_folder_and_models_dir(tmp_path):
    folder = pipeline_folder(tmp_path / "somewhere" / "my-vace")
    assert resolve_model(str(folder)).source == "folder"
    by_id = pipeline_folder(tmp_path / "models" / "vace-1.3b")
    location = resolve_model("vace-1.3b", models_dir=tmp_path / "models")
    assert (location.path, location.source) == (by_id, "models dir")
    by_repo = pipeline_folder(tmp_path / "models2" / "Wan2.1-T2V-1.3B-Diffusers", "WanPipeline")
    assert resolve_model("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", models_dir=tmp_path / "models2").path == by_repo


def test_hugging_face_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--Wan-AI--Wan2.1-VACE-1.3B-diffusers"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123456789abcdef0123456789abcdef01234567")
    pipeline_folder(repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    location = resolve_model("vace-1.3b", models_dir=tmp_path / "empty")
    assert location.source == "hf cache" and location.path.name.startswith("0123")
    assert is_present(MODELS["vace-1.3b"], tmp_path / "empty") == location.path


def test_missing_offline_says_what_where_and_how(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model("vace-14b", models_dir=tmp_path / "models")
    message = str(caught.value)
    assert "vace-14b (Wan-AI/Wan2.1-VACE-14B-diffusers)" in message
    assert str(tmp_path / "models" / "vace-14b") in message and "Hugging Face cache" in message
    assert (
        f"hf download Wan-AI/Wan2.1-VACE-14B-diffusers --local-dir {tmp_path / 'models' / 'vace-14b'}"
        in message
    )


def test_download_only_when_allowed(tmp_path, monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    calls = []

    def fake_download(repo_id, local_dir=None, local_files_only=False, **_):
        if local_files_only:
            raise FileNotFoundError("not in the cache")
        calls.append((repo_id, local_dir))
        return str(pipeline_folder(local_dir))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    with pytest.raises(ModelNotFoundError):
        resolve_model("t2v-1.3b", models_dir=tmp_path / "models")
    assert calls == []
    location = resolve_model("t2v-1.3b", models_dir=tmp_path / "models", allow_download=True)
    assert location.source == "download" and calls == [
        ("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", tmp_path / "models" / "t2v-1.3b")
    ]


def test_a_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    import huggingface_hub

    def offline(repo_id, local_files_only=False, **_):
        raise OSError("could not reach huggingface.co")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(
        ModelNotFoundError, match=r"downloading Wan-AI/Wan2\.1-VACE-1\.3B-diffusers into .* failed"
    ):
        resolve_model("vace-1.3b", models_dir=tmp_path, allow_download=True)


def test_tiny_models_are_built_once_with_the_real_classes(tmp_path):
    first = resolve_model("tiny", models_dir=tmp_path)
    index = json.loads((first.path / "model_index.json").read_text())
    assert (
        index["_class_name"] == "WanVACEPipeline" and index["transformer"][1] == "WanVACETransformer3DModel"
    )
    assert resolve_model("tiny", models_dir=tmp_path).path == first.path


def test_models_dir_order(monkeypatch, tmp_path):
    monkeypatch.delenv("WAN_MODELS_DIR", raising=False)
    assert str(default_models_dir()) == "models/wan"
    monkeypatch.setenv("WAN_MODELS_DIR", str(tmp_path))
    assert default_models_dir() == tmp_path


def test_memory_presets_from_the_gpu():
    pick = preset_for_vram
    assert [pick(v).name for v in (None, 6, 7.9, 8, 12, 15.9, 16, 80)] == [
        "none",
        "aggressive",
        "aggressive",
        "balanced",
        "balanced",
        "balanced",
        "conservative",
        "conservative",
    ]
    chain, preset = [], MEMORY_PRESETS["none"]
    while preset is not None:
        chain.append(preset.name)
        preset = preset.more_aggressive()
    assert chain == ["none", "conservative", "balanced", "aggressive"]
    assert resolve_memory("auto", vram_gb=6).offload == "group"
    assert resolve_memory("balanced").offload == "model"
    with pytest.raises(SettingsError, match="memory_preset: must be one of auto, none, conservative"):
        WanConfig(memory={"preset": "huge"})


def test_parameter_counts_match_the_architectures():
    from accelerate import init_empty_weights
    from diffusers import WanTransformer3DModel, WanVACETransformer3DModel

    base = {
        "patch_size": (1, 2, 2),
        "attention_head_dim": 128,
        "cross_attn_norm": True,
        "freq_dim": 256,
        "out_channels": 16,
        "qk_norm": "rms_norm_across_heads",
        "text_dim": 4096,
    }
    small = {"ffn_dim": 8960, "num_attention_heads": 12, "num_layers": 30}
    with init_empty_weights():
        vace = WanVACETransformer3DModel(
            in_channels=16, vace_layers=list(range(0, 30, 2)), vace_in_channels=96, **base, **small
        )
        t2v = WanTransformer3DModel(in_channels=16, **base, **small)
    assert sum(p.numel() for p in vace.parameters()) == MODELS["vace-1.3b"].transformer_params
    assert sum(p.numel() for p in t2v.parameters()) == MODELS["t2v-1.3b"].transformer_params
    weights = MODELS["i2v-14b-480p"].weights_gb("bf16")
    assert weights["text_encoder"] == pytest.approx(TEXT_ENCODER_PARAMS * 2 / 1024**3)
    assert weights["vae"] == pytest.approx(VAE_PARAMS * 4 / 1024**3)
    assert weights["image_encoder"] == pytest.approx(IMAGE_ENCODER_PARAMS * 2 / 1024**3)
    assert MODELS["vace-1.3b"].weights_gb("fp8")["transformer"] == pytest.approx(2.006, abs=0.01)
    assert MODELS["tiny"].weights_gb() == {}
