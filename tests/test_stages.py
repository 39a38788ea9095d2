"""Per-stage timings: the stream clock gives each second to the link that spent it, records add
up across clips, every render's metrics.json has every stage (and each clip its own, with one
time per step), and the tab shows them as a table."""

from __future__ import annotations

import json
import time

import pytest

from wan.config import WanConfig, config_from_dict
from wan.plan import create_plan
from wan.progress import format_bytes, stage_rows, stage_summary
from wan.render.stages import (
    RSS_PER_STAGE,
    RSS_SINCE_START,
    STAGE_ORDER,
    PeakMemory,
    StageRecorder,
    StreamClock,
    merge_stages,
    steady_step_seconds,
)


class FakeTime:
    """perf_counter that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock_time(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr("wan.render.stages.time.perf_counter", fake)
    return fake


def test_the_stream_clock_gives_each_second_to_the_link_that_spent_it(clock_time):
    def source():
        for item in range(3):
            clock_time.now += 1.0  # reading one item: 1 s
            yield item

    def doubled(items):
        for item in items:
            clock_time.now += 0.5  # the middle link's own work: 0.5 s an item
            yield item * 2

    clock = StreamClock("encoding")
    with clock.within("interpolation"):
        clock_time.now += 2.0  # building the interpolator
    out = []
    for item in clock.timed(doubled(clock.timed(source(), "reading")), "interpolation"):
        clock_time.now += 0.25  # the consumer
        out.append(item)
    assert out == [0, 2, 4]
    assert clock.finish() == {"encoding": 0.75, "interpolation": 3.5, "reading": 3.0}


def test_records_add_up_and_keep_the_render_order(clock_time):
    recorder = StageRecorder("cpu")
    recorder.start("vae_decode")
    clock_time.now += 2.0
    recorder.start("load")  # ends vae_decode
    clock_time.now += 1.0
    recorder.stop()
    clip = StageRecorder("cpu")
    clip.add("denoising", 3.0, 100, steps=3, step_seconds_total=2.7)
    clip.add("denoising", 1.0, 300, steps=1, step_seconds_total=0.9)
    recorder.absorb(clip)
    stages = recorder.to_dict()
    assert list(stages) == ["load", "denoising", "vae_decode"]
    assert stages["load"]["seconds"] == 1.0 and stages["vae_decode"]["seconds"] == 2.0
    assert stages["denoising"] == {
        "seconds": 4.0,
        "peak_memory_bytes": 300,
        "steps": 4,
        "step_seconds_total": 3.6,
        "seconds_per_step": 0.9,
    }
    merged = merge_stages(stages, {"load": {"seconds": 0.5, "peak_memory_bytes": None}})
    assert merged["load"]["seconds"] == 1.5 and merged["load"]["peak_memory_bytes"] is not None
    assert recorder.peak() == max(r["peak_memory_bytes"] for r in stages.values())


def test_the_steady_step_time_leaves_the_warm_up_step_out():
    assert steady_step_seconds([9.0, 1.0, 1.2, 1.1]) == pytest.approx(1.1)
    assert steady_step_seconds([2.0]) == 2.0 and steady_step_seconds([]) is None


def test_peak_memory_on_the_cpu_is_the_process_peak_and_says_which():
    memory = PeakMemory("cpu")
    assert memory.kind in (RSS_PER_STAGE, RSS_SINCE_START)
    before = memory.peak()
    block = bytearray(64 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page
    assert memory.peak() >= before + 60 * 1024 * 1024
    del block
    memory.reset()
    if memory.kind == RSS_PER_STAGE:  # Linux: the peak starts again from what is resident now
        assert memory.peak() < before + 60 * 1024 * 1024


def test_stage_rows_and_summary_for_the_tab_and_the_command_line():
    stages = {
        "load": {"seconds": 1.0, "peak_memory_bytes": 3 * 1024**3},
        "denoising": {
            "seconds": 3.0,
            "peak_memory_bytes": 512 * 1024**2,
            "steps": 30,
            "seconds_per_step": 0.1,
        },
    }
    assert stage_rows(stages) == [
        ["load", 1.0, "25%", "3.00 GiB"],
        ["denoising (30 steps, 0.1 s/step)", 3.0, "75%", "512 MiB"],
    ]
    assert stage_summary(stages) == "denoising 75%, load 25%"
    assert stage_rows(None) == [] and format_bytes(None) == "-"


def test_the_tab_shows_a_finished_jobs_stages(tmp_path):
    from wan.service import JobService, WanAPI
    from wan.ui.actions import TabActions, form_values

    stages = {
        "denoising": {"seconds": 2.0, "peak_memory_bytes": 1024**3, "steps": 2, "seconds_per_step": 1.0}
    }

    def finished(job, control, report):
        return {"metrics": {"stages": stages}}

    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", generate=finished)
    try:
        actions = TabActions(service, uploads=[tmp_path])
        job_id, _ = actions.generate(form_values(WanConfig(max_frames=17)))
        deadline = time.time() + 10
        while actions.status(job_id)["state"] != "succeeded" and time.time() < deadline:
            time.sleep(0.05)
        status = actions.status(job_id)
        assert status["stages"] == [["denoising (2 steps, 1 s/step)", 2.0, "100%", "1.00 GiB"]]
        assert actions.status("")["stages"] is None
    finally:
        service.close()


# -- a real render --------------------------------------------------------------------------------

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def test_every_render_records_its_stages_and_each_clips(models_dir, tmp_path):
    from wan.render import RenderOptions, RunFolder, render

    settings = {"model": "tiny", "W": 64, "H": 64, "fps": 24, "steps": 3, "clip_frames": 17, "seed": 7}
    config = config_from_dict(settings | {"prompts": {"0": "a forest", "12": "a castle"}, "max_frames": 30})[
        0
    ]
    plan = create_plan(config)
    assert len(plan.clips) > 1
    options = RenderOptions.of(config, models_dir=str(models_dir), memory="none", preview_every=0)
    result = render(plan, tmp_path / "run", options=options)
    metrics = json.loads(RunFolder(result.run_dir).latest().metrics_path.read_text())
    stages = metrics["stages"]
    # every stage, in render order (resizing only where the output size is not the rendered one)
    assert list(stages) == [stage for stage in STAGE_ORDER if stage != "resizing"]
    assert stages["denoising"]["steps"] == len(plan.clips) * plan.steps
    assert all(record["seconds"] >= 0 and record["peak_memory_bytes"] > 0 for record in stages.values())
    assert metrics["stage_memory"] in (RSS_PER_STAGE, RSS_SINCE_START)
    assert metrics["seconds_per_output_frame"] == pytest.approx(
        metrics["wall_seconds_this_session"] / plan.output_frames, abs=1e-3
    )
    for clip in metrics["clips"]:
        own = clip["stages"]
        assert list(own) == ["conditioning", "denoising", "vae_decode"]
        assert len(own["denoising"]["step_seconds"]) == own["denoising"]["steps"] == plan.steps
        assert clip["peak_memory_bytes"] == max(r["peak_memory_bytes"] for r in own.values())
        assert clip["guidance_batching"] == {"enabled": True}  # memory preset none


def test_a_render_without_batching_says_why(models_dir, tmp_path):
    from wan.render import RenderOptions, render

    config = config_from_dict({"model": "tiny-t2v", "W": 64, "H": 64, "steps": 2, "max_frames": 9})[0]
    options = RenderOptions.of(
        config, models_dir=str(models_dir), memory="balanced", preview_every=0, write_video=False
    )
    result = render(create_plan(config), tmp_path / "run", options=options)
    clip = result.metrics["clips"][0]
    assert clip["guidance_batching"] == {
        "enabled": False,
        "reason": "the balanced memory preset keeps activations small",
    }
    assert "encoding" in result.metrics["stages"]
