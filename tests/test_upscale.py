"""Upscaling with random-weight spandrel architectures saved as state dicts (Real-ESRGAN's compact
SRVGGNet, ESRGAN's RRDBNet): exact frame counts and sizes, tiles that match whole frames, temporal
stabilisation, bounded memory on a long video, the command and a render's upscale_* settings."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from tiny_quality import import_spandrel, write_aesthetic_head, write_tiny_upscaler

from wan.cli import main
from wan.post.encode import count_frames, write_mp4
from wan.post.synthetic import panning_video
from wan.post.upscale import TemporalStabilizer, UpscaleError, load_upscaler, upscale_frames
from wan.post.upscale.temporal import shimmer

torch = pytest.importorskip("torch")
import_spandrel()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upscalers")
    return {
        ("compact", 2): write_tiny_upscaler(folder / "compact_x2.pth", scale=2),
        ("compact", 4): write_tiny_upscaler(folder / "compact_x4.safetensors", scale=4),
        ("esrgan", 4): write_tiny_upscaler(folder / "esrgan_x4.pth", scale=4, kind="esrgan"),
    }


def noise_frames(count: int, height: int = 24, width: int = 40, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize(
    ("kind", "model_scale", "scale"), [("compact", 2, 2), ("compact", 4, 2), ("esrgan", 4, 4)]
)
def test_exactly_the_frames_and_size_asked(models, kind, model_scale, scale):
    upscaler = load_upscaler(models[(kind, model_scale)], device="cpu")
    assert upscaler.scale == model_scale
    frames = noise_frames(7)
    out = list(upscale_frames(frames, upscaler, scale=scale, batch=3, temporal=0.5))
    assert len(out) == 7
    assert all(frame.shape == (24 * scale, 40 * scale, 3) and frame.dtype == np.uint8 for frame in out)


def test_tiles_give_the_whole_frame_result(models):
    frames = np.stack(noise_frames(2, 70, 90))
    whole = load_upscaler(models[("compact", 2)], device="cpu").run(frames)
    tiled = load_upscaler(models[("compact", 2)], device="cpu", tile=40).run(frames)
    assert tiled.shape == whole.shape == (2, 140, 180, 3)
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1


def test_stabilisation_steadies_shimmer_and_keeps_a_cut():
    rng = np.random.default_rng(3)
    source = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    base = np.kron(source, np.ones((2, 2, 1), np.uint8)).astype(int)
    noisy = [np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8) for _ in range(10)]
    stabilizer = TemporalStabilizer(0.8)
    steady = [stabilizer.add(source, frame) for frame in noisy]
    assert shimmer(steady) < 0.5 * shimmer(noisy)
    cut = (255 - base).astype(np.uint8)
    after = stabilizer.add(255 - source, cut)
    assert np.abs(after.astype(int) - cut.astype(int)).mean() < 1.0
    assert TemporalStabilizer(0.0).add(source, noisy[0]) is noisy[0]


def test_frames_stream_one_batch_at_a_time_and_memory_stays_bounded(models):
    upscaler = load_upscaler(models[("compact", 2)], device="cpu")
    produced = [0]

    def source(count):
        rng = np.random.default_rng(0)
        for _ in range(count):
            produced[0] += 1
            yield rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)

    def peak(count: int) -> int:
        produced[0] = 0
        tracemalloc.start()
        consumed = 0
        for _ in upscale_frames(source(count), upscaler, scale=2, batch=4, temporal=0.5):
            consumed += 1
            assert produced[0] - consumed < 4  # never more than one batch ahead
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert consumed == count
        return size

    short, long = peak(12), peak(120)
    assert long < 1.5 * short  # ten times the frames, not ten times the memory


def test_the_upscale_command(models, tmp_path, capsys):
    video = tmp_path / "pan.mp4"
    write_mp4(panning_video(range(9), 48, 64), video, fps=16)
    out = tmp_path / "big.mp4"
    model = str(models[("compact", 4)])
    assert (
        main(["upscale", str(video), "--scale", "2", "--model", model, "--out", str(out), "--tile", "0"]) == 0
    )
    assert count_frames(out) == 9
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(out))
    assert next(reader)["size"] == (128, 96)
    reader.close()
    said = capsys.readouterr().out
    assert "9 frames at 128x96 from 64x48" in said and "resized to x2" in said


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scale", "3"], "--scale: must be 2 or 4 (got '3')"),
        (["--temporal", "2"], "--temporal: must be a number from 0 to 0.95"),
        (["--tile", "20"], "--tile: must be 0 (whole frames) or a tile size from 64 to 2048"),
    ],
)
def test_bad_options_name_the_option(models, tmp_path, capsys, arguments, message):
    video = tmp_path / "pan.mp4"
    write_mp4(panning_video(range(3), 48, 64), video, fps=16)
    assert main(["upscale", str(video), "--model", str(models[("compact", 2)]), *arguments]) != 0
    assert message in capsys.readouterr().err


def test_files_that_are_not_upscalers_are_refused(tmp_path):
    with pytest.raises(UpscaleError, match=r"upscale_model: .* is not a file"):
        load_upscaler(tmp_path / "missing.pth")
    head = write_aesthetic_head(tmp_path / "head.pth")
    with pytest.raises(UpscaleError, match="not an architecture spandrel knows"):
        load_upscaler(head)

    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    evil = tmp_path / "evil.pth"
    torch.save({"conv": Payload()}, evil)
    with pytest.raises(UpscaleError, match="cannot be read as a state dict of tensors"):
        load_upscaler(evil)


def test_a_render_upscales_and_refines_its_output(models, tiny_models_dir, tmp_path):
    from wan.config import config_from_dict
    from wan.plan import create_plan
    from wan.render import RenderOptions, render

    settings = {
        "model": "tiny",
        "W": 64,
        "H": 64,
        "fps": 16,
        "steps": 2,
        "clip_frames": 9,
        "seed": 7,
        "max_frames": 9,
        "upscale_enabled": True,
        "upscale_model": str(models[("compact", 2)]),
        "upscale_scale": 2,
        "upscale_refine_strength": 0.3,
        "upscale_refine_model": "tiny-t2v",
    }
    config = config_from_dict(settings)[0]
    options = RenderOptions.of(config, models_dir=str(tiny_models_dir), preview_every=0, memory="none")
    result = render(create_plan(config), tmp_path / "run", options=options)
    assert count_frames(result.video) == 9
    frames = sorted(result.frames_dir.glob("*.png"))
    from PIL import Image

    assert len(frames) == 9 and Image.open(frames[0]).size == (128, 128)
    from wan.render import RunFolder

    metrics = json.loads(RunFolder(result.run_dir).take(result.take).metrics_path.read_text())
    assert metrics["upscale"]["scale"] == 2 and metrics["upscale"]["architecture"] == "RealESRGAN Compact"
    assert metrics["quality"]["frames"] == 9
    assert metrics["upscale"]["refine_model"] == "tiny-t2v" and metrics["upscale"]["refine_strength"] == 0.3


def test_settings_refuse_what_cannot_upscale(errors_of, models, tmp_path):
    from wan.config import FileAccess, file_access

    assert "upscale_model" in errors_of({"upscale_enabled": True})
    assert errors_of({"upscale_scale": 3})["upscale_scale"] == "must be 2 or 4"
    with file_access(FileAccess.restricted(models=[tmp_path])):
        message = errors_of({"upscale_model": str(models[("compact", 2)])})["upscale_model"]
    assert message.startswith("not allowed")


def test_the_hosts_upscaler_folders_are_offered_and_allowed(tmp_path, monkeypatch):
    import sys
    import types

    from wan.config import file_access
    from wan.config.upscale import UpscaleOptions
    from wan.service import JobService, WanAPI
    from wan.webui.host import upscaler_dirs

    host_models = tmp_path / "webui" / "models"
    monkeypatch.setitem(sys.modules, "modules.paths", types.SimpleNamespace(models_path=str(host_models)))
    folders = upscaler_dirs()
    assert [f.name for f in folders] == ["ESRGAN", "RealESRGAN", "SwinIR"]
    (host_models / "RealESRGAN").mkdir(parents=True)
    model = write_tiny_upscaler(host_models / "RealESRGAN" / "RealESRGAN_x2plus.pth")
    (host_models / "RealESRGAN" / "notes.txt").write_text("not a model")
    api = WanAPI(models_dir=tmp_path / "wan-models", output_dir=tmp_path / "out", upscaler_dirs=folders)
    assert api.list_upscalers() == [str(model.resolve())]
    service = JobService(api, start=False)
    with file_access(service.default_access()):
        assert UpscaleOptions(model=str(model)).model == str(model.resolve())


def test_the_refine_pass_runs_wan_video_to_video_in_windows_inside_clips(tiny_models_dir, monkeypatch):
    import diffusers

    from wan.post.upscale.refine import RefineSpan, load_refiner, refine_frames

    calls = []
    original = diffusers.WanVideoToVideoPipeline.__call__

    def spy(pipe, *args, **kwargs):
        calls.append(
            (len(kwargs["video"]), kwargs["height"], kwargs["width"], kwargs["prompt"], kwargs["strength"])
        )
        return original(pipe, *args, **kwargs)

    monkeypatch.setattr(diffusers.WanVideoToVideoPipeline, "__call__", spy)
    pipe = load_refiner("tiny-t2v", models_dir=str(tiny_models_dir), allow_download=False, device="cpu")
    frames = noise_frames(12, 44, 56)  # 44x56: refined at 48x64 (multiples of 16) and back
    spans = [RefineSpan(0, 7, "a forest", "", 1), RefineSpan(7, 12, "a castle", "", 2)]
    out = list(refine_frames(frames, pipe, spans, strength=0.3, tile=0, window=5))
    assert len(out) == 12 and all(f.shape == (44, 56, 3) for f in out)
    # windows: 0-4 and 5-6 (forest), 7-11 (castle); 2 frames padded to 5 (4n+1)
    assert calls == [
        (5, 48, 64, "a forest", 0.3),
        (5, 48, 64, "a forest", 0.3),
        (5, 48, 64, "a castle", 0.3),
    ]
    assert not np.array_equal(out[0], frames[0])


def test_the_refine_pass_in_tiles(tiny_models_dir, monkeypatch):
    import diffusers

    from wan.post.upscale.refine import RefineSpan, load_refiner, refine_window

    sizes = []
    original = diffusers.WanVideoToVideoPipeline.__call__
    monkeypatch.setattr(
        diffusers.WanVideoToVideoPipeline,
        "__call__",
        lambda pipe, **kwargs: sizes.append((kwargs["height"], kwargs["width"])) or original(pipe, **kwargs),
    )
    pipe = load_refiner("tiny-t2v", models_dir=str(tiny_models_dir), allow_download=False, device="cpu")
    out = refine_window(
        pipe, noise_frames(5, 64, 96), RefineSpan(0, 5, "a lake", "", 3), strength=0.25, tile=64
    )
    assert len(out) == 5 and out[0].shape == (64, 96, 3)
    assert sizes == [(64, 64), (64, 64)]  # two tiles across, overlapping by 32


def test_a_refine_model_must_be_text_to_video(errors_of):
    assert "text-to-video" in errors_of({"upscale_refine_model": "vace-1.3b"})["upscale_refine_model"]
    assert "text-to-video" in errors_of({"upscale_refine_model": "nonsense"})["upscale_refine_model"]
