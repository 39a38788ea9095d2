"""LoRAs: the `loras` setting (names, paths, weights, schedules, experts), each clip's weights in
the plan, loading in every key format diffusers reads for Wan (fused or as adapters), keys that
match nothing, experts, the step-distilled presets with their fixed steps, and renders."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wan.config import (
    FileAccess,
    LoraSpec,
    SettingsError,
    config_from_dict,
    file_access,
    list_loras,
    lora_search,
)
from wan.plan import ClipLora, GenerationPlan, create_plan, weight_frame
from wan.ui.lora_rows import ROW_KEYS, loras_of_rows, row_values

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
pytest.importorskip("peft")

from wan.models.lora import LoraError, apply_loras, has_two_experts  # noqa: E402
from wan.models.tiny import build_tiny_pipeline  # noqa: E402
from wan.models.tiny_loras import FORMATS, save_tiny_lora, tiny_lora_state  # noqa: E402


@pytest.fixture(scope="module")
def loras(tmp_path_factory):
    """A LoRA folder with a tiny LoRA in each format, one in a subfolder, and a pickle file."""
    folder = tmp_path_factory.mktemp("models") / "loras"
    for fmt in FORMATS:
        save_tiny_lora(folder / f"{fmt}.safetensors", "t2v", fmt, seed=FORMATS.index(fmt))
    save_tiny_lora(folder / "styles" / "ink.safetensors", "t2v", "diffusers", seed=9)
    (folder / "unsafe.ckpt").write_bytes(b"pickle")
    return folder


def clips(*weights, file="x.safetensors", expert="both"):
    """Clip stand-ins with one LoRA each at these weights (what apply_loras reads of a clip)."""
    return [SimpleNamespace(loras=(ClipLora(str(file), w, expert),)) for w in weights]


# -- the setting -----------------------------------------------------------------------------------


def test_names_are_found_in_the_lora_folders_and_kept_as_paths(loras):
    with lora_search([loras]):
        config, _ = config_from_dict(
            {
                "loras": [
                    {"file": "diffusers"},
                    {"file": "styles/ink.safetensors", "weight": -0.5},
                    "original:0.25@both",
                ]
            }
        )
    files = [lora.file for lora in config.lora.loras]
    assert files == [
        str(loras / "diffusers.safetensors"),
        str(loras / "styles/ink.safetensors"),
        str(loras / "original.safetensors"),
    ]
    assert [lora.weight for lora in config.lora.loras] == [1.0, -0.5, 0.25]
    assert config_from_dict(config.to_dict())[0] == config  # absolute paths validate anywhere
    assert [found["name"] for found in list_loras([loras])] == [
        "diffusers",
        "musubi",
        "original",
        "styles/ink",
    ]


def test_the_short_text_form(loras):
    with lora_search([loras]):
        config, _ = config_from_dict(
            {"loras": "musubi:0:(0.8), 96:(0.2)@low; diffusers\noriginal:-1.5", "max_frames": 97}
        )
    assert [(lora.name, lora.weight, lora.expert) for lora in config.lora.loras] == [
        ("musubi", "0:(0.8), 96:(0.2)", "low"),
        ("diffusers", 1.0, "both"),
        ("original", -1.5, "both"),
    ]
    assert config.lora.loras[0].scheduled and not config.lora.loras[1].scheduled


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nothing-here", "no such file, and no LoRA of that name in the LoRA folders"),
        ("unsafe.ckpt", "must be a LoRA file (.safetensors); other formats can run code"),
        ({"file": "diffusers", "weight": 11}, "must be from -10 to 10"),
        ({"file": "diffusers", "weight": True}, "not true/false"),
        ({"file": "diffusers", "weight": "0:(sinn(t))"}, "weight schedule: keyframe 1"),
        ({"file": "diffusers", "expert": "middle"}, "expert must be one of both, high, low"),
        ({"file": "diffusers", "strength": 1}, "unknown key(s) strength"),
        ({"file": "https://example.com/x.safetensors"}, "must be a local path"),
        ([{"file": "diffusers"}] * 7, "at most 6 LoRAs"),
    ],
)
def test_bad_entries_name_the_setting_the_entry_and_what_is_allowed(loras, value, message):
    with lora_search([loras]), pytest.raises(SettingsError) as caught:
        config_from_dict({"loras": value if isinstance(value, list) else [value]})
    (error,) = caught.value.errors
    assert error.key == "loras" and message in error.message


def test_a_weight_schedule_is_checked_over_the_animation(loras):
    with lora_search([loras]), pytest.raises(SettingsError) as caught:
        config_from_dict({"loras": [{"file": "diffusers", "weight": "0:(t/2)"}], "max_frames": 40})
    assert "entry 1 weight must stay from -10 to 10; frame 21 gives 10.5" in str(caught.value)


def test_api_callers_name_loras_only_in_the_operators_folders(loras, tmp_path):
    outside = save_tiny_lora(tmp_path / "elsewhere.safetensors")
    access = FileAccess.restricted(models=[loras.parent, loras])
    with file_access(access), lora_search([loras]):
        assert config_from_dict({"loras": ["diffusers"]})[0].lora.loras[0].file == str(
            loras / "diffusers.safetensors"
        )
        with pytest.raises(SettingsError, match="not allowed"):
            config_from_dict({"loras": [str(outside)]})
        with pytest.raises(SettingsError, match="not allowed"):
            config_from_dict({"loras": ["../../" + outside.name]})
    elsewhere = FileAccess.restricted(models=[tmp_path / "other"])
    with file_access(elsewhere), lora_search([loras]), pytest.raises(SettingsError) as caught:
        config_from_dict({"loras": ["diffusers"]})
    assert "not allowed: name a LoRA inside the server's LoRA folders" in str(caught.value)


def test_the_tab_rows_round_trip_the_setting(loras):
    with lora_search([loras]):
        config, _ = config_from_dict(
            {
                "loras": [
                    {"file": "diffusers", "weight": 0.6},
                    {"file": "musubi", "weight": "0:(1), 9:(0)", "expert": "low"},
                    "original:5",
                ]
            }
        )
    names = {str(loras / "diffusers.safetensors"): "diffusers"}
    values = row_values(config.lora.loras, names)
    assert len(values) == len(ROW_KEYS) and values[:4] == ["diffusers", 0.6, "", "both"]
    assert values[4:8] == [str(loras / "musubi.safetensors"), 1.0, "0:(1), 9:(0)", "low"]
    assert values[8:12] == [str(loras / "original.safetensors"), 1.0, "5.0", "both"]  # beyond the slider
    with lora_search([loras]):
        again, _ = config_from_dict({"loras": loras_of_rows(values)})
    assert again.lora == config.lora


# -- the plan --------------------------------------------------------------------------------------


def test_each_clip_takes_the_schedule_at_its_middle_frame_and_the_distill_lora_comes_last(loras):
    def plan_with(weight):
        settings = {
            "max_frames": 97,
            "fps": 16,
            "clip_frames": 33,
            "seed": 1,
            "loras": [{"file": str(loras / "musubi.safetensors"), "weight": weight}],
            "speed_preset": "causvid",
            "speed_lora": str(loras / "diffusers.safetensors"),
        }
        config, _ = config_from_dict(settings)
        return config, create_plan(config)

    config, plan = plan_with("0:(0.8), 96:(0.2)")
    values = config.lora.weight_values(0, 97, 1)
    assert len(plan.clips) == 4
    for clip in plan.clips:
        frame = weight_frame(clip.start_frame, clip.end_frame, 97)
        assert clip.start_frame <= frame < clip.end_frame
        assert clip.loras[0].weight == pytest.approx(values[frame], abs=1e-6)
        assert clip.loras[1] == ClipLora(str(loras / "diffusers.safetensors"), 0.3, "both")
    weights = [clip.loras[0].weight for clip in plan.clips]
    assert weights == sorted(weights, reverse=True) and len(set(weights)) == 4
    assert GenerationPlan.from_dict(json.loads(plan.to_json())) == plan
    # a changed schedule changes the definition of the clips whose weight it changes, only those
    _, later = plan_with("0:(0.8), 48:(0.5), 96:(0.5)")
    assert later.clips[0] == plan.clips[0] and later.clips[3] != plan.clips[3]


@given(st.integers(0, 500), st.integers(0, 500), st.integers(1, 600))
def test_the_weight_frame_lies_in_the_clip_and_the_animation(start, length, max_frames):
    frame = weight_frame(start, start + length, max_frames)
    assert 0 <= frame < max_frames
    if length and start + length <= max_frames:
        assert start <= frame < start + length


def test_the_plan_command_shows_each_clips_weights(loras, capsys, tmp_path):
    from wan.cli import main

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"max_frames": 33, "clip_frames": 17}))
    weights = f"loras={loras / 'musubi.safetensors'}:0:(1), 32:(0)"
    assert main(["plan", str(settings), "--set", weights]) == 0
    out = capsys.readouterr().out
    assert "loras (weight per clip):\n  musubi.safetensors: 0.875, 0.5625, 0.1875\n" in out


# -- loading ---------------------------------------------------------------------------------------


def _pipeline(kind="t2v"):
    pipe = build_tiny_pipeline(kind)
    pipe.set_progress_bar_config(disable=True)
    return pipe


EMBEDDINGS = torch.randn(2, 1, 512, 32, generator=torch.Generator().manual_seed(1))


def _generate(pipe, **extra):
    output = pipe(
        prompt_embeds=EMBEDDINGS[0],
        negative_prompt_embeds=EMBEDDINGS[1],
        height=32,
        width=32,
        num_frames=5,
        output_type="np",
        generator=torch.Generator().manual_seed(0),
        **({"num_inference_steps": 2} | extra),
    )
    return np.asarray(output.frames[0])


@pytest.fixture(scope="module")
def untouched():
    return _generate(_pipeline())


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_key_format_changes_the_output_fused_as_adapter_alike_and_weight_0_changes_nothing(
    loras, untouched, fmt
):
    file = loras / f"{fmt}.safetensors"
    pipe = _pipeline()
    applied = apply_loras(pipe, clips(1.0, file=file))
    assert [lora.mode for lora in applied.loras] == ["fused"]
    fused = _generate(pipe)
    assert np.abs(fused - untouched).max() > 0.05

    pipe = _pipeline()
    scheduled = clips(1.0, 0.0, file=file)
    applied = apply_loras(pipe, scheduled)
    assert [lora.mode for lora in applied.loras] == ["adapter"]
    applied.before_clip(scheduled[0])
    np.testing.assert_allclose(_generate(pipe), fused, atol=1e-5)
    applied.before_clip(scheduled[1])
    np.testing.assert_array_equal(_generate(pipe), untouched)

    pipe = _pipeline()
    assert [lora.mode for lora in apply_loras(pipe, clips(0.0, file=file)).loras] == ["skipped"]
    np.testing.assert_array_equal(_generate(pipe), untouched)


def test_vace_takes_a_t2v_lora_and_two_loras_add_up(loras):
    pipe = _pipeline("vace")
    two = [
        SimpleNamespace(
            loras=(
                ClipLora(str(loras / "musubi.safetensors"), 0.5),
                ClipLora(str(loras / "styles/ink.safetensors"), 1.0),
            )
        )
    ]
    applied = apply_loras(pipe, two)
    assert [lora.record(1.0)["mode"] for lora in applied.loras] == ["fused", "fused"]
    assert not any("lora" in name for name, _ in pipe.transformer.named_modules())  # adapters unloaded


def test_keys_that_match_nothing_are_an_error_naming_the_file_and_keys(tmp_path):
    from safetensors.torch import save_file

    state = tiny_lora_state("t2v", "diffusers")
    state["transformer.blocks.7.attn1.to_q.lora_A.weight"] = torch.zeros(2, 24)
    state["text_encoder.encoder.lora_A.weight"] = torch.zeros(2, 24)
    save_file(state, str(tmp_path / "other.safetensors"))
    with pytest.raises(LoraError) as caught:
        apply_loras(_pipeline(), clips(1.0, file=tmp_path / "other.safetensors"))
    message = str(caught.value)
    assert message.startswith("LoRA other.safetensors: 2 of its 42 keys match no layer")
    assert "transformer.blocks.7.attn1.to_q.lora_A.weight" in message and "text_encoder.encoder" in message
    # a LoRA for a bigger model, in the original format: every block past the tiny model's two
    save_tiny_lora(tmp_path / "vace3.safetensors", "vace", "original")
    with pytest.raises(
        LoraError, match=r"vace3.safetensors: \d+ of its \d+ keys match no layer.*blocks\.2\."
    ):
        apply_loras(_pipeline("t2v"), clips(1.0, file=tmp_path / "vace3.safetensors"))
    # same layer names, another model size (a 14B LoRA on a 1.3B model)
    from wan.models.tiny import tiny_transformer_config
    from wan.models.tiny_loras import random_lora_state

    wider = tiny_transformer_config("t2v") | {"attention_head_dim": 16}
    save_file(random_lora_state(wider), str(tmp_path / "wider.safetensors"))
    with pytest.raises(LoraError) as caught:
        apply_loras(_pipeline(), clips(1.0, file=tmp_path / "wider.safetensors"))
    assert "wider.safetensors: 36 of its matrices do not fit the transformer's layers, e.g. " in str(
        caught.value
    )
    assert "transformer.blocks.0.attn1.to_q (LoRA 2x32, layer 24->24)" in str(caught.value)
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(LoraError, match=r"junk\.safetensors is not a Wan LoRA diffusers can read"):
        apply_loras(_pipeline(), clips(1.0, file=tmp_path / "junk.safetensors"))


def _two_experts():
    from diffusers import WanPipeline

    from wan.models.tiny import _transformer

    pipe = _pipeline("t2v")
    torch.manual_seed(5)
    return WanPipeline(
        tokenizer=pipe.tokenizer,
        text_encoder=pipe.text_encoder,
        vae=pipe.vae,
        scheduler=pipe.scheduler,
        transformer=pipe.transformer,
        transformer_2=_transformer("t2v"),
        boundary_ratio=0.5,
    )


@pytest.mark.parametrize(
    ("expert", "high", "low"), [("both", True, True), ("high", True, False), ("low", False, True)]
)
def test_the_expert_choice_picks_the_transformers(loras, expert, high, low):
    pipe = _two_experts()
    assert has_two_experts(pipe) and not has_two_experts(_pipeline())
    applied = apply_loras(pipe, clips(1.0, 0.5, file=loras / "diffusers.safetensors", expert=expert))
    for model, wanted in ((pipe.transformer, high), (pipe.transformer_2, low)):
        layers = sum(1 for m in model.modules() if "wan_lora_0" in (getattr(m, "lora_A", None) or {}))
        assert layers == (20 if wanted else 0)
    applied.before_clip(clips(0.7, file=loras / "diffusers.safetensors", expert=expert)[0])


def test_one_expert_of_a_one_expert_model_is_an_error_naming_the_lora(loras):
    with pytest.raises(
        LoraError, match=r"LoRA musubi\.safetensors: expert low needs a model with two experts"
    ):
        apply_loras(
            _pipeline(), clips(1.0, file=loras / "musubi.safetensors", expert="low"), model="tiny-t2v"
        )


# -- the step-distilled presets --------------------------------------------------------------------


def test_the_fixed_step_scheduler_runs_exactly_its_steps_reproducibly():
    from wan.models.schedulers import FixedStepScheduler, seed_scheduler_noise, use_fixed_steps

    pipe = _pipeline()
    use_fixed_steps(pipe, (1000, 750, 500, 250), 5.0)
    seen = []
    forward = pipe.transformer.forward
    pipe.transformer.forward = lambda *a, **k: (
        seen.append(float(k["timestep"].flatten()[0])) or forward(*a, **k)
    )
    runs = []
    for _ in range(2):
        seed_scheduler_noise(pipe, 3)
        runs.append(_generate(pipe, num_inference_steps=4, guidance_scale=1.0))
    shifted = [1000.0, 937.5, 833.333, 625.0]  # 5 s / (1 + 4 s) of s = t / 1000, times 1000
    assert seen == pytest.approx(shifted * 2, abs=1e-3)  # one forward per step: guidance 1
    np.testing.assert_array_equal(runs[0], runs[1])
    assert FixedStepScheduler.from_config(pipe.scheduler.config).config.fixed_timesteps == [
        1000,
        750,
        500,
        250,
    ]
    with pytest.raises(ValueError, match="runs its 4 fixed steps"):
        pipe.scheduler.set_timesteps(8)


# -- renders ---------------------------------------------------------------------------------------


def _render(tmp_path, name, settings):
    from wan.render import RenderOptions, render

    base = {"model": "tiny", "W": 64, "H": 64, "fps": 16, "steps": 2, "clip_frames": 9, "seed": 7}
    config, _ = config_from_dict(base | settings)
    options = RenderOptions(
        models_dir=str(tmp_path.parent / "tiny-models"),
        preview_every=0,
        memory="none",
        speed=config.speed,
        write_video=False,
        quality_checks=False,
        interpolation=None,
    )
    return render(create_plan(config), tmp_path / name, options=options)


def test_a_weight_schedule_gives_each_clip_its_weight_and_weight_0_is_no_lora(loras, tmp_path):
    from wan.render import RunFolder

    # two clips of 9 frames (overlap 1): frames 0-8 and 9-16; the weight is 0 until frame 8, then 1
    settings = {"max_frames": 17, "clip_overlap": 1}
    lora = {"file": str(loras / "musubi.safetensors"), "weight": "0:(0), 8:(0), 9:(1)"}
    plain = RunFolder(_render(tmp_path, "plain", settings).run_dir).latest()
    scheduled = RunFolder(_render(tmp_path, "scheduled", settings | {"loras": [lora]}).run_dir).latest()
    records = [scheduled.clip_metadata(i)["loras"] for i in (0, 1)]
    assert [r[0]["weight"] for r in records] == [0.0, 1.0]
    assert {r[0]["mode"] for r in records} == {"adapter"}
    first, second = range(9), range(9, 17)
    np.testing.assert_array_equal(scheduled.read_model_frames(first), plain.read_model_frames(first))
    assert not np.array_equal(scheduled.read_model_frames(second), plain.read_model_frames(second))


def test_a_distilled_preset_renders_its_fixed_steps_with_its_lora(loras, tmp_path, monkeypatch):
    seen = []
    forward = diffusers.WanVACETransformer3DModel.forward

    def spy(self, *args, **kwargs):
        seen.append(round(float(kwargs["timestep"].flatten()[0]), 3))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(diffusers.WanVACETransformer3DModel, "forward", spy)
    settings = {
        "max_frames": 9,
        "steps": None,
        "speed_preset": "lightx2v",
        "speed_lora": str(loras / "diffusers.safetensors"),
    }
    result = _render(tmp_path, "distilled", settings)
    assert result.plan.steps == 4 and result.plan.guidance_scale == 1.0 and result.plan.flow_shift == 5.0
    assert seen == [1000.0, 937.5, 833.333, 625.0]  # the fixed steps, one forward each (no guidance)
    (record,) = result.metrics["clips"][0]["loras"]
    assert record["mode"] == "fused" and record["weight"] == 1.0


def test_an_expert_the_model_lacks_stops_the_render_before_any_file(loras, tmp_path):
    lora = {"file": str(loras / "musubi.safetensors"), "expert": "high"}
    with pytest.raises(LoraError, match=r"musubi\.safetensors: expert high needs a model with two experts"):
        _render(tmp_path, "run", {"max_frames": 9, "loras": [lora]})
    assert not (tmp_path / "run").exists()


# -- the service -----------------------------------------------------------------------------------


def test_the_service_finds_loras_in_its_folders_and_the_hosts_and_lists_them(loras, tmp_path):
    from wan.service import JobService, WanAPI
    from wan.service.schema import settings_schema

    models = tmp_path / "models"
    save_tiny_lora(models / "loras" / "own.safetensors")
    api = WanAPI(output_dir=tmp_path / "out", models_dir=models, lora_dirs=[loras])  # loras: the WebUI's
    service = JobService(api, tmp_path / "jobs", start=False)
    try:
        config = service.settings({"loras": ["own:0.5", {"file": "styles/ink", "expert": "both"}]})
        assert [lora.file for lora in config.lora.loras] == [
            str((models / "loras" / "own.safetensors").resolve()),
            str(loras / "styles" / "ink.safetensors"),
        ]
        outside = save_tiny_lora(tmp_path / "elsewhere" / "x.safetensors")
        with pytest.raises(SettingsError, match="not allowed"):
            service.settings({"loras": [str(outside)]})
        plan = service.plan({"loras": "own:0:(1), 80:(0)", "max_frames": 81}, seed=1)
        assert plan.clips[0].loras[0].weight == 0.5
    finally:
        service.close()
    listing = api.list_models()
    assert [found["name"] for found in listing["loras"]] == [
        "diffusers",
        "musubi",
        "original",
        "own",
        "styles/ink",
    ]
    assert listing["lora_folders"] == [str(models / "loras"), str(loras)]
    assert settings_schema()["properties"]["loras"]["anyOf"][0]["items"]["properties"]["expert"]["enum"] == [
        "both",
        "high",
        "low",
    ]


def test_the_tab_sends_its_lora_rows_as_the_loras_setting(loras, tmp_path):
    from wan.service import JobService, WanAPI
    from wan.ui.actions import FORM_KEYS, TabActions, form_values, settings_from_values

    api = WanAPI(output_dir=tmp_path / "out", models_dir=tmp_path / "models", lora_dirs=[loras])
    service = JobService(api, tmp_path / "jobs", start=False)
    try:
        actions = TabActions(service)
        assert set(actions.lora_names()) == {"diffusers", "musubi", "original", "styles/ink"}
        values = form_values(config_from_dict({"max_frames": 33, "clip_frames": 17})[0])
        row = FORM_KEYS.index("lora_1_file")
        values[row : row + 4] = ["styles/ink", 0.5, "0:(1), 32:(0)", "both"]
        config = service.settings(settings_from_values(values))
        assert config.lora.loras == (
            LoraSpec(str(loras / "styles" / "ink.safetensors"), "0:(1), 32:(0)", "both"),
        )
        rows, _image, message = actions.analyse(values, plot=False)
        assert len(rows) == 3 and not message.startswith("⚠")
        values[row] = "missing-lora"
        assert "no LoRA of that name" in actions.analyse(values, plot=False)[2]
    finally:
        service.close()
