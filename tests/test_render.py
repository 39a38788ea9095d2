"""Rendering with the tiny random models on the CPU: chaining, conditioning, resume, cancel,
out-of-memory fallback, previews, exact frame counts and the MP4."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wan.config import WanConfig, config_from_dict
from wan.plan import create_plan
from wan.post.encode import count_frames
from wan.render import (
    ProgressEvent,
    RenderCancelled,
    RenderControl,
    RenderOptions,
    ResumeMismatchError,
    RunFolder,
    render,
)
from wan.render.engine import RenderError
from wan.render.previews import LatentPreviewer

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def tiny_config(**overrides) -> WanConfig:
    settings = {
        "model": "tiny",
        "W": 64,
        "H": 64,
        "fps": 16,
        "steps": 3,
        "clip_frames": 17,
        "seed": 7,
        "prompts": {"0": "a misty forest"},
        "max_frames": 17,
    }
    return config_from_dict(settings | overrides)[0]


def options(models_dir, **overrides) -> RenderOptions:
    return RenderOptions(**{"models_dir": str(models_dir), "preview_every": 0, "memory": "none"} | overrides)


class PipelineSpy:
    """Records the arguments of every pipeline call (the real call still runs)."""

    def __init__(self, monkeypatch, *classes):
        self.calls: list[tuple[str, dict]] = []
        for cls in classes:
            monkeypatch.setattr(cls, "__call__", self._recording(cls.__name__, cls.__call__))

    def _recording(self, name, original):
        def wrapped(pipe, *args, **kwargs):
            self.calls.append((name, kwargs))
            return original(pipe, *args, **kwargs)

        return wrapped


def test_vace_text_to_video_one_clip(models_dir, tmp_path):
    plan = create_plan(tiny_config())
    events: list[ProgressEvent] = []
    result = render(plan, tmp_path / "run", options=options(models_dir), callback=events.append)
    take = RunFolder(result.run_dir).latest()
    assert len(list((result.run_dir / "clips").glob("*/frames/*.png"))) == plan.model_frames == 17
    assert count_frames(result.video) == plan.output_frames == 17
    assert result.video == take.video_path and (result.run_dir / "video.mp4").samefile(result.video)
    assert len(list(result.frames_dir.glob("*.png"))) == 17
    metrics = json.loads(take.metrics_path.read_text())
    clip = metrics["clips"][0]
    assert clip["attempts"] == 1 and clip["seconds"] > 0 and clip["seconds_per_frame"] > 0
    assert "peak_memory_bytes" in clip and metrics["device"] == "cpu"
    steps = [e for e in events if e.kind == "step"]
    assert [e.step for e in steps] == [1, 2, 3] and all(e.seconds_per_step > 0 for e in steps)
    assert steps[-1].eta_seconds is not None and events[-1].kind == "done"


@pytest.mark.parametrize("overlap", [1, 4])
def test_vace_chaining_conditions_each_clip_on_the_tail_of_the_previous(
    models_dir, tmp_path, monkeypatch, overlap
):
    spy = PipelineSpy(monkeypatch, diffusers.WanVACEPipeline)
    config = tiny_config(
        max_frames=39, clip_overlap=overlap, prompts={"0": "a forest", "13": "a castle", "26": "light"}
    )
    plan = create_plan(config)
    assert len(plan.clips) == 3
    result = render(plan, tmp_path / "run", options=options(models_dir))
    folder = RunFolder(result.run_dir).latest()
    assert len(spy.calls) == 3 and "video" not in spy.calls[0][1]  # clip 0: text only
    for clip, (_, kwargs) in zip(plan.clips[1:], spy.calls[1:], strict=True):
        video, mask = kwargs["video"], kwargs["mask"]
        assert len(video) == len(mask) == clip.num_frames == kwargs["num_frames"]
        tail = folder.read_model_frames(range(clip.model_start_frame - overlap, clip.model_start_frame))
        np.testing.assert_array_equal(np.stack([np.asarray(f) for f in video[:overlap]]), tail)
        assert all(np.asarray(f).max() == 0 for f in mask[:overlap])
        assert all(np.asarray(f).min() == 255 for f in mask[overlap:])
        assert np.asarray(video[overlap]).tolist()[0][0] == [128, 128, 128]
    assert len(list((result.run_dir / "clips").glob("*/frames/*.png"))) == plan.model_frames
    assert count_frames(result.video) == plan.output_frames == 39


def test_t2v_then_i2v_continues_from_the_last_frame(models_dir, tmp_path, monkeypatch):
    spy = PipelineSpy(monkeypatch, diffusers.WanPipeline, diffusers.WanImageToVideoPipeline)
    config = tiny_config(model="tiny-t2v", i2v_model="tiny-i2v", max_frames=40)
    plan = create_plan(config)
    result = render(plan, tmp_path / "run", options=options(models_dir))
    folder = RunFolder(result.run_dir).latest()
    assert [name for name, _ in spy.calls] == ["WanPipeline"] + ["WanImageToVideoPipeline"] * (
        len(plan.clips) - 1
    )
    for clip, (_, kwargs) in zip(plan.clips[1:], spy.calls[1:], strict=True):
        last = folder.read_model_frames([clip.model_start_frame - 1])[0]
        np.testing.assert_array_equal(np.asarray(kwargs["image"]), last)
    assert count_frames(result.video) == 40


def test_init_image_starts_the_first_clip(models_dir, tmp_path, monkeypatch):
    from PIL import Image

    image_path = tmp_path / "start.png"
    Image.new("RGB", (128, 96), (200, 40, 40)).save(image_path)
    spy = PipelineSpy(monkeypatch, diffusers.WanVACEPipeline)
    plan = create_plan(tiny_config(init_image=str(image_path)))
    assert plan.clips[0].conditioning == "init_image"
    render(plan, tmp_path / "run", options=options(models_dir))
    first = np.asarray(spy.calls[0][1]["video"][0])
    assert first.shape == (64, 64, 3) and first[32, 32].tolist() == [200, 40, 40]
    assert np.asarray(spy.calls[0][1]["mask"][0]).max() == 0


def test_cancel_leaves_a_folder_that_resumes_without_redoing_clips(models_dir, tmp_path, monkeypatch):
    config = tiny_config(max_frames=40, prompts={"0": "a forest", "13": "a castle", "27": "light"})
    plan = create_plan(config)
    control = RenderControl()

    def cancel_after_clip_one(event):
        if event.kind == "clip_done" and event.clip == 1:
            control.cancel()

    with pytest.raises(RenderCancelled):
        render(
            plan,
            tmp_path / "run",
            options=options(models_dir),
            callback=cancel_after_clip_one,
            control=control,
        )
    take = RunFolder(tmp_path / "run").latest()
    assert take.first_unfinished() == 2 and not take.video_path.exists()

    spy = PipelineSpy(monkeypatch, diffusers.WanVACEPipeline)
    result = render(plan, tmp_path / "run", options=options(models_dir), resume=True)
    assert len(spy.calls) == len(plan.clips) - 2  # only the clips that were not finished
    assert count_frames(result.video) == 40 and len(result.metrics["clips"]) == len(plan.clips)

    changed = create_plan(
        tiny_config(max_frames=40, prompts={"0": "another forest", "13": "a castle", "27": "light"})
    )
    with pytest.raises(ResumeMismatchError, match=r"differs in clips\[0\]"):
        render(changed, tmp_path / "run", options=options(models_dir), resume=True)


def test_resuming_a_finished_run_keeps_its_output_unless_the_output_options_changed(
    models_dir, tmp_path, monkeypatch
):
    """A resume with no clip left re-encoded the video every time (d1b0a49 always ran the output
    stage); now the output stays when metrics.json records the same output options, and only the
    output stage runs again when they differ or its files are gone."""
    import wan.render.output as output_stage
    from wan.config import InterpolationOptions
    from wan.post.encode import write_mp4

    def interpolated(**overrides):
        return options(models_dir, interpolation=InterpolationOptions(), **overrides)

    plan = create_plan(tiny_config(fps=24, max_frames=20))
    first = render(plan, tmp_path / "run", options=interpolated())
    video = first.video.read_bytes()
    assert first.metrics["output"] == {
        "interpolation": {
            "enabled": True,
            "method": "optical_flow",
            "strength": 1.0,
            "quality": "balanced",
            "weights": "",
        },
        "crf": 17,
        "save_frames": True,
        "write_video": True,
        "quality_checks": True,
    }
    spy = PipelineSpy(monkeypatch, diffusers.WanVACEPipeline)
    encoded = []

    def recording_mp4(frames, path, **kwargs):
        encoded.append(kwargs)
        return write_mp4(frames, path, **kwargs)

    monkeypatch.setattr(output_stage, "write_mp4", recording_mp4)

    again = render(plan, tmp_path / "run", options=interpolated(), resume=True)
    assert again.clips_rendered == 0 and encoded == [] and spy.calls == []
    assert again.video.read_bytes() == video and again.metrics == first.metrics and again.take == 1

    lower = render(plan, tmp_path / "run", options=interpolated(crf=30), resume=True)
    assert spy.calls == [] and [call["crf"] for call in encoded] == [30]
    assert lower.metrics["output"]["crf"] == 30 and count_frames(lower.video) == 20
    assert lower.take == 2 and first.video.read_bytes() == video  # a new take: take 1 stays as it was

    lower.video.unlink()  # the same options, but the take's video is gone
    last = render(plan, tmp_path / "run", options=interpolated(crf=30), resume=True)
    assert len(encoded) == 2 and spy.calls == [] and last.take == 3
    assert count_frames(tmp_path / "run" / "video.mp4") == 20


def test_pause_holds_between_steps(models_dir, tmp_path):
    import threading
    import time

    control = RenderControl()
    paused_at: list[float] = []
    resumed = threading.Event()

    def on_event(event):
        if event.kind == "step" and event.step == 1 and not paused_at:
            control.pause()
            paused_at.append(time.perf_counter())
            threading.Timer(0.3, lambda: (resumed.set(), control.resume())).start()

    started = time.perf_counter()
    render(
        create_plan(tiny_config()),
        tmp_path / "run",
        options=options(models_dir),
        callback=on_event,
        control=control,
    )
    assert resumed.is_set() and time.perf_counter() - started >= 0.3


def test_out_of_memory_moves_to_the_next_preset(models_dir, tmp_path, monkeypatch):
    original = diffusers.WanVACEPipeline.__call__
    failures = {"left": 1}

    def flaky(pipe, *args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return original(pipe, *args, **kwargs)

    monkeypatch.setattr(diffusers.WanVACEPipeline, "__call__", flaky)
    events: list[ProgressEvent] = []
    result = render(
        create_plan(tiny_config()), tmp_path / "run", options=options(models_dir), callback=events.append
    )
    clip = result.metrics["clips"][0]
    assert clip["attempts"] == 2 and clip["memory_preset"] == "conservative"
    assert any(e.kind == "retry" and "conservative" in e.message for e in events)


def test_out_of_memory_on_every_preset_is_a_clear_error(models_dir, tmp_path, monkeypatch):
    def always(pipe, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    monkeypatch.setattr(diffusers.WanVACEPipeline, "__call__", always)
    with pytest.raises(RenderError, match="ran out of memory with the aggressive preset"):
        render(create_plan(tiny_config()), tmp_path / "run", options=options(models_dir, memory="balanced"))


def test_nan_output_is_reported(models_dir, tmp_path, monkeypatch):
    original = diffusers.WanVACEPipeline.__call__

    def broken(pipe, *args, **kwargs):
        output = original(pipe, *args, **kwargs)
        output.frames[0][0, 0, 0, 0] = np.nan
        return output

    monkeypatch.setattr(diffusers.WanVACEPipeline, "__call__", broken)
    with pytest.raises(RenderError, match="NaN"):
        render(create_plan(tiny_config()), tmp_path / "run", options=options(models_dir))


def test_group_offload_with_vae_tiling_on_vace(models_dir, tmp_path):
    from wan.config import MEMORY_PRESETS, MemoryPreset
    from wan.models.loading import apply_memory, encode_prompts, load_pipeline, release_text_encoder
    from wan.models.resolve import resolve_model

    location = resolve_model("tiny", models_dir=models_dir)
    outputs = []
    for memory in (
        MEMORY_PRESETS["none"],
        MemoryPreset("aggressive", "group", True, "tiny tiles", encode_on_cpu=True, vae_tile=32),
    ):
        pipe = load_pipeline(location, dtype=torch.float32, flow_shift=3.0)
        ((positive, negative),) = encode_prompts(
            pipe, [("a forest", "")], device=torch.device("cpu")
        ).values()
        release_text_encoder(pipe)
        apply_memory(pipe, memory, torch.device("cpu"))
        assert pipe.text_encoder is None and pipe.vae.use_tiling == memory.vae_tiling
        frames = pipe(
            prompt_embeds=positive,
            negative_prompt_embeds=negative,
            height=64,
            width=64,
            num_frames=9,
            num_inference_steps=2,
            generator=torch.Generator().manual_seed(0),
            output_type="np",
        ).frames[0]
        outputs.append(frames)
    assert outputs[1].shape == outputs[0].shape == (9, 64, 64, 3) and np.isfinite(outputs[1]).all()
    render(create_plan(tiny_config()), tmp_path / "run", options=options(models_dir, memory="aggressive"))


def test_previews_and_last_frames(models_dir, tmp_path):
    events: list[ProgressEvent] = []
    result = render(
        create_plan(tiny_config()),
        tmp_path / "run",
        options=options(models_dir, preview_every=1),
        callback=events.append,
    )
    previews = [e.preview for e in events if e.kind == "preview"]
    assert len(previews) == 3 and previews[0].shape == (8, 8, 3) and previews[0].dtype == np.uint8
    done = [e for e in events if e.kind == "clip_done"]
    assert done[0].preview.shape == (64, 64, 3)
    assert (result.run_dir / "previews" / "latest.png").is_file()
    assert (result.run_dir / "previews" / "clip_0000.png").is_file()


def test_colour_coherence_pulls_later_clips_to_the_first(models_dir, tmp_path):
    from wan.post.color import color_stats

    config = tiny_config(max_frames=40, prompts={"0": "a forest", "13": "a castle", "27": "light"})
    result = render(create_plan(config), tmp_path / "run", options=options(models_dir))
    folder = RunFolder(result.run_dir).latest()
    plan = result.plan
    stats = [
        color_stats(folder.read_model_frames(range(c.model_start_frame, c.model_end_frame)))
        for c in plan.clips
    ]
    for later in stats[1:]:
        np.testing.assert_allclose(later.mean, stats[0].mean, atol=1.5)


def test_previewer_recovers_a_linear_decoder():
    class LinearVAE(torch.nn.Module):
        """Encodes each 2x2 block's mean colour with a known linear map into 4 channels."""

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(
                torch.tensor([[1.0, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, 0.5], [0.0, 0.0, 1.0, 0.5]])
            )
            self.config = type("Config", (), {"latents_mean": [0.0] * 4, "latents_std": [1.0] * 4})()

        def encode(self, video):
            pooled = torch.nn.functional.avg_pool3d(video, (1, 2, 2))
            latents = torch.einsum("bcthw,cd->bdthw", pooled, self.weight)
            dist = type("Dist", (), {"mode": lambda _self: latents})()
            return type("Out", (), {"latent_dist": dist})()

    previewer = LatentPreviewer.fit(LinearVAE(), spatial_factor=2)
    red = np.array([1.0, -1.0, -1.0]) @ LinearVAE().weight.detach().numpy()
    image = previewer.project(red.reshape(4, 1, 1))
    assert image[0, 0].tolist() == [255, 0, 0]


def test_progress_never_goes_back_and_the_output_stage_comes_last(models_dir, tmp_path):
    config = tiny_config(prompts={"0": "a fox", "20": "a den"}, max_frames=36)
    events: list[ProgressEvent] = []
    render(create_plan(config), tmp_path / "run", options=options(models_dir), callback=events.append)
    clips = [e.clip for e in events]
    assert clips == sorted(clips) and clips[-1] == len(create_plan(config).clips) - 1
    frames = [e.frames_done for e in events]
    assert frames == sorted(frames)
    writing = [e for e in events if e.kind in ("writing", "done")]
    assert writing and all(e.clip == clips[-1] and e.step == e.steps for e in writing)


def test_the_run_folder_is_made_only_once_the_model_is_found(models_dir, tmp_path):
    from wan.models.resolve import ModelNotFoundError

    config = tiny_config(model="t2v-1.3b")
    with pytest.raises(ModelNotFoundError, match="hf download"):
        render(create_plan(config), tmp_path / "run", options=options(tmp_path / "no-models"))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("device", ["cuda", "mps", "gpu", "cuda:7"])
def test_a_device_this_machine_lacks_is_a_clear_error_before_anything_is_written(
    models_dir, tmp_path, device
):
    if torch.cuda.is_available() and device.startswith("cuda"):
        pytest.skip("this machine has CUDA")
    with pytest.raises(RenderError, match=device.split(":")[0]):
        render(create_plan(tiny_config()), tmp_path / "run", options=options(models_dir, device=device))
    assert not (tmp_path / "run").exists()


def test_a_finished_job_with_few_steps_has_a_preview(models_dir, tmp_path):
    from wan.service import JobService, WanAPI
    from wan.service.worker import render_job

    api = WanAPI(output_dir=tmp_path, models_dir=models_dir)
    service = JobService(api, tmp_path / "jobs", generate=None, start=False)
    try:
        settings = tiny_config(steps=2).to_dict()
        _, (job_id,) = service.store.submit([settings])
        job = service.store.claim_next()
        render_job(api, service.store)(job, RenderControl(), lambda event: None)
        preview = service.preview(job_id)
        assert preview is not None and preview.name == "clip_0000.png"  # no live preview at 2 steps
    finally:
        service.close()
