"""Any frame size: the size a model renders at (wan.catalog.sizes), the plan showing both sizes
and why, frames fitted to exactly the size asked (wan.post.fit), and a render of 850x478."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wan.catalog import MODELS, render_size
from wan.config import config_from_dict
from wan.plan import GenerationPlan, create_plan
from wan.post.fit import fit_frame

SIDES = st.integers(64, 2048)


def test_850x478_renders_at_848x480_and_says_why():
    size = render_size(850, 478, MODELS["vace-1.3b"])
    assert (size.width, size.height) == (848, 480)
    assert size.reason == (
        "850x478 is not a multiple of 16 on both sides, which vace-1.3b needs: rendered at 848x480, the "
        "nearest aspect it takes near its trained area (832x480), then resized and centre-cropped to 850x478"
    )
    assert render_size(832, 480, MODELS["vace-1.3b"]).reason == ""
    hd = render_size(1920, 1078, MODELS["vace-14b"])  # the trained size nearest in area: 720p
    assert (hd.width, hd.height) == (1280, 720) and "(1280x720)" in hd.reason
    assert (
        render_size(1920, 1078, MODELS["vace-1.3b"]).width,
        render_size(478, 850, MODELS["t2v-1.3b"]).height,
    ) == (
        848,
        848,
    )


@given(SIDES, SIDES, st.sampled_from(["vace-1.3b", "vace-14b", "i2v-14b-720p", "tiny"]))
def test_the_render_size_is_what_the_model_takes_with_the_aspect_asked(width, height, model):
    spec = MODELS[model]
    size = render_size(width, height, spec)
    assert size.width % spec.size_multiple == 0 and size.height % spec.size_multiple == 0
    if width % 16 == 0 and height % 16 == 0:
        assert (size.width, size.height, size.reason) == (width, height, "")
        return
    aspect_error = abs(math.log(size.width / size.height / (width / height)))
    nearest = min(spec.sizes, key=lambda s: abs(math.log(s[0] * s[1] / (width * height))))
    area_error = abs(math.log(size.width * size.height / (nearest[0] * nearest[1])))
    # one step of 16 on the shorter rendered side bounds the aspect error
    assert aspect_error <= math.log1p(16 / min(size.width, size.height)) + 1e-9
    assert area_error < (1.0 if spec.tiny else 0.35)  # tiny: 128x80, where one step of 16 weighs more
    assert f"{width}x{height}" in size.reason and f"{size.width}x{size.height}" in size.reason


def test_the_plan_keeps_both_sizes_and_takes_the_flow_shift_of_the_rendered_one():
    config, _ = config_from_dict({"model": "vace-14b", "W": 1300, "H": 730, "max_frames": 17})
    plan = create_plan(config)
    assert (plan.width, plan.height, plan.render_width, plan.render_height) == (1300, 730, 1280, 720)
    assert plan.resized and "rendered at 1280x720" in plan.size_note and plan.flow_shift == 5.0
    assert GenerationPlan.from_dict(json.loads(plan.to_json())) == plan
    older = json.loads(plan.to_json())
    for key in ("render_width", "render_height", "size_note", "timesteps"):
        del older[key]  # a plan.json written before these fields existed
    read = GenerationPlan.from_dict(older)
    assert (read.render_width, read.render_height, read.resized) == (1300, 730, False)
    same = create_plan(config_from_dict({"W": 832, "H": 480, "max_frames": 17})[0])
    assert not same.resized and same.size_note == ""


def test_the_plan_command_shows_both_sizes_and_the_reason(tmp_path, capsys):
    from wan.cli import main

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"W": 850, "H": 478, "max_frames": 17}))
    assert main(["plan", str(settings)]) == 0
    out = capsys.readouterr().out
    assert "| 850x478 (rendered at 848x480) |" in out.splitlines()[0]
    assert "size: 850x478 is not a multiple of 16 on both sides" in out


def test_fit_frame_scales_to_cover_and_crops_the_middle():
    frame = np.zeros((80, 144, 3), dtype=np.uint8)
    frame[:, :72] = 255  # left half white
    fitted = fit_frame(frame, 850, 478)
    assert fitted.shape == (478, 850, 3) and fitted.dtype == np.uint8
    assert fitted[:, :400].min() > 200 and fitted[:, 450:].max() < 50  # the halves stay halves
    tall = fit_frame(frame, 100, 200)  # a different aspect: the sides are cut, nothing is stretched
    assert tall.shape == (200, 100, 3) and tall[:, :48].min() > 200 and tall[:, 53:].max() < 50
    assert fit_frame(frame, 144, 80) is frame


def test_an_850x478_render_is_an_850x478_mp4(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    diffusers = pytest.importorskip("diffusers")
    from PIL import Image

    from wan.post.video import open_video
    from wan.render import RenderOptions, RunFolder, render

    image = tmp_path / "start.png"
    Image.new("RGB", (300, 200), (200, 30, 30)).save(image)
    sizes = []
    call = diffusers.WanVACEPipeline.__call__

    def spy(pipe, *args, **kwargs):
        sizes.append((kwargs["width"], kwargs["height"], kwargs["video"][0].size))
        return call(pipe, *args, **kwargs)

    monkeypatch.setattr(diffusers.WanVACEPipeline, "__call__", spy)
    settings = {"model": "tiny", "W": 850, "H": 478, "fps": 16, "steps": 2, "clip_frames": 9, "max_frames": 9}
    config, _ = config_from_dict(settings | {"seed": 3, "init_image": str(image)})
    plan = create_plan(config)
    assert (plan.render_width, plan.render_height) == (144, 80)
    options = RenderOptions(models_dir=str(tmp_path / "models"), preview_every=0, memory="none")
    result = render(plan, tmp_path / "run", options=options)
    assert sizes == [(144, 80, (144, 80))]  # the init image is made at the rendered size
    info, frames = open_video(result.video)
    assert (info.width, info.height, sum(1 for _ in frames)) == (850, 478, 9)
    with Image.open(next(iter(sorted(result.frames_dir.glob("*.png"))))) as first:
        assert first.size == (850, 478)
    assert RunFolder(result.run_dir).latest().read_model_frames([0]).shape == (1, 80, 144, 3)
    assert result.metrics["quality"]["frames"] == 9
