"""Wan 2.2: the registry's facts, each model's defaults through the settings and the plan, and
renders with the tiny two-expert pipelines (T2V, I2V, VACE as VACE-Fun) and the tiny TI2V
pipeline (its own VAE, 24 fps, continuing clips through the image-to-video pipeline)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wan.catalog import MODELS, local_model
from wan.catalog.models import VAE22_PARAMS
from wan.config import config_from_dict
from wan.plan import GenerationPlan, create_plan
from wan.post.encode import count_frames
from wan.post.video import open_video

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from wan.render import RenderOptions, RunFolder, render  # noqa: E402


@pytest.fixture
def models_dir(tiny_models_dir):
    return tiny_models_dir


def tiny(model: str, **overrides):
    settings = {"model": model, "W": 64, "H": 64, "steps": 4, "seed": 7, "prompts": {"0": "a misty forest"}}
    return config_from_dict(settings | overrides)[0]


def options(models_dir, preview_every: int = 0) -> RenderOptions:
    return RenderOptions(models_dir=str(models_dir), preview_every=preview_every, memory="none")


class Calls:
    """Records each pipeline call's keyword arguments and which transformer ran each forward."""

    def __init__(self, monkeypatch, *classes):
        self.pipelines: list[tuple[str, dict]] = []
        self.forwards: list[int] = []
        for cls in classes:
            monkeypatch.setattr(cls, "__call__", self._pipeline(cls.__name__, cls.__call__))
        for cls in (diffusers.WanTransformer3DModel, diffusers.WanVACETransformer3DModel):
            monkeypatch.setattr(cls, "forward", self._forward(cls.forward))

    def _pipeline(self, name, original):
        def wrapped(pipe, *args, **kwargs):
            self.pipelines.append((name, kwargs | {"_experts": _expert_ids(pipe)}))
            return original(pipe, *args, **kwargs)

        return wrapped

    def _forward(self, original):
        def wrapped(model, *args, **kwargs):
            self.forwards.append(id(model))
            return original(model, *args, **kwargs)

        return wrapped


def _expert_ids(pipe) -> list[int]:
    return [id(m) for m in (pipe.transformer, getattr(pipe, "transformer_2", None)) if m is not None]


# -- the registry ---------------------------------------------------------------------------------


def test_the_registry_holds_the_wan22_models_with_their_reference_settings():
    t2v, i2v, ti2v, vace = (MODELS[i] for i in ("t2v-a14b", "i2v-a14b", "ti2v-5b", "vace-fun-a14b"))
    assert (t2v.hub_id, i2v.hub_id, ti2v.hub_id) == (
        "Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        "Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
    )
    assert vace.hub_id == "linoyts/Wan2.2-VACE-Fun-14B-diffusers" and vace.kind == "vace"
    assert (
        t2v.experts,
        t2v.boundary_ratio,
        t2v.flow_shift,
        t2v.default_guidance,
        t2v.default_guidance_2,
    ) == (
        2,
        0.875,
        12.0,
        4.0,
        3.0,
    )
    assert (i2v.experts, i2v.boundary_ratio, i2v.flow_shift, i2v.default_guidance_2) == (2, 0.9, 5.0, 3.5)
    assert not i2v.image_encoder and MODELS["i2v-14b-480p"].image_encoder
    assert (ti2v.native_fps, ti2v.max_frames, ti2v.sizes, ti2v.size_multiple, ti2v.vae) == (
        24,
        121,
        ((1280, 704),),
        32,
        "wan2.2",
    )
    # two experts are twice the weights; the Wan 2.2 VAE is bigger than 2.1's
    assert t2v.weights_gb()["transformer"] == pytest.approx(2 * MODELS["t2v-14b"].weights_gb()["transformer"])
    assert ti2v.weights_gb()["vae"] == pytest.approx(VAE22_PARAMS * 4 / 1024**3)


def test_the_wan22_vae_has_the_registry_parameter_count():
    from accelerate import init_empty_weights

    from wan.models.architectures import VAE22_CONFIG

    with init_empty_weights():
        vae = diffusers.AutoencoderKLWan(**VAE22_CONFIG)
    assert sum(p.numel() for p in vae.parameters()) == VAE22_PARAMS


def test_a_local_folder_says_its_experts_and_whether_it_is_ti2v(tmp_path):
    def folder(name, index):
        path = tmp_path / name
        path.mkdir()
        (path / "model_index.json").write_text(json.dumps(index))
        return path

    two = folder(
        "a14b",
        {"_class_name": "WanPipeline", "transformer_2": ["diffusers", "X"], "boundary_ratio": 0.875},
    )
    ti2v = folder(
        "ti2v", {"_class_name": "WanPipeline", "transformer_2": [None, None], "expand_timesteps": True}
    )
    assert (local_model(two).experts, local_model(two).boundary_ratio) == (2, 0.875)
    spec = local_model(ti2v)
    assert (spec.kind, spec.experts, spec.native_fps, spec.max_frames, spec.size_multiple) == (
        "ti2v",
        1,
        24,
        121,
        32,
    )


# -- settings and plans ---------------------------------------------------------------------------


def test_each_models_defaults_flow_into_the_plan():
    a14b = create_plan(config_from_dict({"model": "t2v-a14b", "seed": 1})[0])
    assert (a14b.steps, a14b.guidance_scale, a14b.guidance_scale_2, a14b.flow_shift) == (40, 4.0, 3.0, 12.0)
    assert (a14b.model_fps, a14b.clip_frames) == (16, 81)
    i2v = create_plan(config_from_dict({"model": "t2v-1.3b", "i2v_model": "i2v-a14b", "seed": 1})[0])
    assert i2v.guidance_scale_2 == 3.5 and i2v.flow_shift == 3.0  # the video model's shift
    old = create_plan(config_from_dict({"model": "t2v-14b", "W": 1280, "H": 720, "seed": 1})[0])
    assert (old.guidance_scale_2, old.flow_shift) == (None, 5.0)
    ti2v = create_plan(
        config_from_dict({"model": "ti2v-5b", "W": 1280, "H": 704, "fps": 24, "max_frames": 240})[0]
    )
    assert (ti2v.model_fps, ti2v.clip_frames, ti2v.flow_shift, ti2v.steps) == (24, 121, 5.0, 50)
    assert ti2v.model_frames == 240 and max(c.num_frames for c in ti2v.clips) <= 121
    # the TI2V continues its own clips from the last frame
    assert [c.conditioning for c in ti2v.clips[1:]] == ["previous_clip"] * (len(ti2v.clips) - 1)
    assert all(c.overlap_frames == 1 for c in ti2v.clips[1:])
    explicit = create_plan(
        config_from_dict({"model": "t2v-a14b", "guidance_scale_2": 2.5, "speed_preset": "fast"})[0]
    )
    assert explicit.guidance_scale_2 == 2.5
    # 24 fps output from a 24 fps model: one model frame per output frame
    assert GenerationPlan.from_dict(json.loads(ti2v.to_json())) == ti2v


def test_an_old_plan_without_the_second_guidance_still_reads():
    plan = create_plan(config_from_dict({"seed": 1})[0])
    data = json.loads(plan.to_json())
    del data["guidance_scale_2"]
    assert GenerationPlan.from_dict(data) == plan


def test_a_size_off_the_models_multiple_renders_at_the_nearest_one_it_takes():
    plan = create_plan(config_from_dict({"model": "ti2v-5b", "W": 848, "H": 480, "seed": 1})[0])
    assert (plan.width, plan.height) == (848, 480)  # the output as asked
    assert plan.render_width % 32 == 0 and plan.render_height % 32 == 0 and "multiple of 32" in plan.size_note


def test_what_a_model_cannot_do_is_a_field_error_at_submission(errors_of):
    assert "vace-1.3b generates at most 81 frames" in errors_of({"clip_frames": 121})["clip_frames"]
    assert config_from_dict({"model": "ti2v-5b", "clip_frames": 121})[0].frames_per_clip() == 121
    assert (
        "is for two-expert models (t2v-a14b, i2v-a14b, vace-fun-a14b)"
        in errors_of({"model": "t2v-14b", "guidance_scale_2": 3})["guidance_scale_2"]
    )
    assert "cannot chain" in errors_of({"model": "ti2v-5b", "i2v_model": "i2v-a14b"})["i2v_model"]
    assert (
        "two-expert models split the steps"
        in errors_of({"model": "t2v-a14b", "speed_cache": "mag"})["speed_cache"]
    )
    assert "i2v-a14b" in errors_of({"model": "t2v-1.3b", "i2v_model": "t2v-a14b"})["i2v_model"]


# -- renders with the tiny models -----------------------------------------------------------------


def test_two_expert_t2v_runs_each_expert_on_its_steps(models_dir, tmp_path, monkeypatch):
    calls = Calls(monkeypatch, diffusers.WanPipeline)
    config = tiny("tiny-t2v-2experts", max_frames=17, fps=16, guidance_scale_2=2.0)
    plan = create_plan(config)
    assert (plan.guidance_scale, plan.guidance_scale_2, plan.flow_shift, plan.steps) == (4.0, 2.0, 12.0, 4)
    result = render(plan, tmp_path / "run", options=options(models_dir))
    ((_name, kwargs),) = calls.pipelines
    assert kwargs["guidance_scale_2"] == 2.0 and kwargs["guidance_scale"] == 4.0
    high, low = kwargs["_experts"]
    # with flow shift 12 the sigmas stay high: steps at or above 0.875 x 1000 go to `transformer`;
    # batched guidance (the default) runs each expert once per step on the conditional and
    # unconditional inputs together
    scheduler = diffusers.UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=12.0
    )
    scheduler.set_timesteps(4)
    expected = [high if t >= 875 else low for t in scheduler.timesteps]
    assert calls.forwards == expected and high in expected and low in expected
    assert count_frames(result.video) == 17


def test_two_expert_i2v_starts_from_the_image_and_continues_clips(models_dir, tmp_path, monkeypatch):
    from PIL import Image

    image = tmp_path / "start.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(image)
    calls = Calls(monkeypatch, diffusers.WanImageToVideoPipeline)
    config = tiny("tiny-i2v-2experts", max_frames=25, fps=16, clip_frames=13, init_image=str(image))
    plan = create_plan(config)
    assert [c.conditioning for c in plan.clips] == ["init_image", "previous_clip"]
    result = render(plan, tmp_path / "run", options=options(models_dir))
    folder = RunFolder(result.run_dir).latest()
    assert [kwargs["guidance_scale_2"] for _, kwargs in calls.pipelines] == [3.5, 3.5]
    assert np.asarray(calls.pipelines[0][1]["image"])[0, 0].tolist() == [200, 40, 40]
    last = folder.read_model_frames([plan.clips[1].model_start_frame - 1])[0]
    np.testing.assert_array_equal(np.asarray(calls.pipelines[1][1]["image"]), last)
    assert count_frames(result.video) == 25


def test_two_expert_vace_chains_through_the_vace_pipeline(models_dir, tmp_path, monkeypatch):
    calls = Calls(monkeypatch, diffusers.WanVACEPipeline)
    config = tiny("tiny-vace-2experts", max_frames=21, fps=16, clip_frames=13, clip_overlap=4, steps=3)
    plan = create_plan(config)
    result = render(plan, tmp_path / "run", options=options(models_dir))
    assert len(calls.pipelines) == len(plan.clips) == 2
    assert "video" in calls.pipelines[1][1] and calls.pipelines[1][1]["guidance_scale_2"] == 3.0
    assert set(calls.forwards) == set(calls.pipelines[0][1]["_experts"])  # both experts ran
    assert count_frames(result.video) == 21


def test_ti2v_renders_at_24_fps_and_continues_through_its_image_pipeline(models_dir, tmp_path, monkeypatch):
    calls = Calls(monkeypatch, diffusers.WanPipeline, diffusers.WanImageToVideoPipeline)
    config = tiny("tiny-ti2v", max_frames=30, fps=24, clip_frames=17, steps=3)
    plan = create_plan(config)
    assert plan.model_fps == 24 and plan.model_frames == 30
    result = render(plan, tmp_path / "run", options=options(models_dir, preview_every=2))
    folder = RunFolder(result.run_dir).latest()
    assert [name for name, _ in calls.pipelines] == ["WanPipeline", "WanImageToVideoPipeline"]
    assert "guidance_scale_2" not in calls.pipelines[0][1]
    # both calls ran the one transformer of the pipeline, on the Wan 2.2 VAE's 48 channels
    assert calls.pipelines[0][1]["_experts"] == calls.pipelines[1][1]["_experts"]
    last = folder.read_model_frames([plan.clips[1].model_start_frame - 1])[0]
    np.testing.assert_array_equal(np.asarray(calls.pipelines[1][1]["image"]), last)
    assert (
        sum(len(list((folder.run.clip_dir(f) / "frames").glob("*.png"))) for f in folder.fingerprints) == 30
    )
    # the latent preview is fitted to the Wan 2.2 VAE (48 channels, 16x spatial) as to any other
    assert (folder.previews_dir / "latest.png").is_file()
    assert count_frames(result.video) == 30
    info, frames = open_video(result.video)
    frames.close()
    assert info.fps == pytest.approx(24)
