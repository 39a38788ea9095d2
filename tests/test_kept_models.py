"""A worker keeps its model loaded between jobs (wan.render.kept): the next render of the same
model loaded the same way takes the pipeline instead of loading it again, new prompts are encoded
with the text encoder alone, and the frames are those a fresh load makes. Anything else loads
again; a failed or cancelled render keeps nothing; an idle worker lets its model go."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import wait_until
from hosts.tiny_job import TINY_JOB

from wan.cli import main as cli_main
from wan.config import config_from_dict
from wan.plan import create_plan
from wan.render import RenderCancelled, RenderControl, RenderOptions, render
from wan.render.kept import KeptPipeline
from wan.render.run_folder import read_png
from wan.service import JobStore, WanAPI
from wan.service.dispatcher import preferred_worker
from wan.service.jobs import WorkerRecord
from wan.service.worker import WorkerLoop
from wan.webui import extension

pytest.importorskip("diffusers")

SETTINGS = TINY_JOB | {"prompts": {"0": "a misty forest"}, "max_frames": 17, "seed": 7}
ENDED = ("succeeded", "failed", "cancelled", "interrupted")


@pytest.fixture
def loads(monkeypatch):
    """Counts of whole-pipeline and text-encoder-only loads during the test."""
    import wan.render.engine as engine

    counts = {"pipeline": 0, "text_encoder": 0}
    load_pipeline, load_text_encoder = engine.load_pipeline, engine.load_text_encoder

    def pipeline(*args, **kwargs):
        counts["pipeline"] += 1
        return load_pipeline(*args, **kwargs)

    def text_encoder(*args, **kwargs):
        counts["text_encoder"] += 1
        return load_text_encoder(*args, **kwargs)

    monkeypatch.setattr(engine, "load_pipeline", pipeline)
    monkeypatch.setattr(engine, "load_text_encoder", text_encoder)
    return counts


def _render(models_dir, folder, kept=None, control=None, **overrides):
    plan = create_plan(config_from_dict(SETTINGS | overrides)[0])
    options = RenderOptions(models_dir=str(models_dir), preview_every=0, memory="none")
    return render(plan, folder, options=options, kept=kept, control=control)


def _frames(result):
    return np.stack([read_png(path) for path in sorted(result.frames_dir.glob("*.png"))])


def test_the_next_render_of_the_model_takes_the_kept_pipeline_and_encodes_only_new_prompts(
    tiny_models_dir, tmp_path, loads
):
    kept = KeptPipeline()
    _render(tiny_models_dir, tmp_path / "first", kept)
    assert kept.model == "tiny" and loads == {"pipeline": 1, "text_encoder": 0}
    # another job: a new prompt, two clips of the same size
    castle = {"prompts": {"0": "a misty forest", "17": "a castle at dawn"}, "max_frames": 33}
    again = _render(tiny_models_dir, tmp_path / "second", kept, **castle)
    assert loads == {"pipeline": 1, "text_encoder": 1}  # the castle prompt, with the encoder alone
    fresh = _render(tiny_models_dir, tmp_path / "fresh", **castle)
    assert loads["pipeline"] == 2
    np.testing.assert_array_equal(_frames(again), _frames(fresh))
    # the same prompts once more: nothing is loaded at all
    _render(tiny_models_dir, tmp_path / "third", kept, **castle)
    assert loads == {"pipeline": 2, "text_encoder": 1}


def test_a_pipeline_loaded_for_other_settings_is_loaded_again(tiny_models_dir, tmp_path, loads):
    kept = KeptPipeline()
    _render(tiny_models_dir, tmp_path / "three-steps", kept)
    two_steps = _render(tiny_models_dir, tmp_path / "two-steps", kept, steps=2)
    assert loads["pipeline"] == 2 and kept.model == "tiny"
    fresh = _render(tiny_models_dir, tmp_path / "fresh", steps=2)
    np.testing.assert_array_equal(_frames(two_steps), _frames(fresh))
    _render(tiny_models_dir, tmp_path / "other-size", kept, W=80)
    assert loads["pipeline"] == 4


def test_a_cancelled_render_keeps_nothing(tiny_models_dir, tmp_path, loads):
    kept = KeptPipeline()
    _render(tiny_models_dir, tmp_path / "first", kept)
    control = RenderControl()
    control.cancel()
    with pytest.raises(RenderCancelled):
        _render(tiny_models_dir, tmp_path / "cancelled", kept, control=control)
    assert kept.model is None and not kept.release()
    assert loads["pipeline"] == 1  # it took the kept one, and let it go when cancelled


def test_the_api_keeps_models_only_when_asked_and_releases_them(tiny_models_dir, tmp_path):
    plain = WanAPI(output_dir=tmp_path, models_dir=tiny_models_dir)
    plain.generate(SETTINGS)
    assert plain.loaded_model() is None and not plain.release_models()
    keeping = WanAPI(output_dir=tmp_path, models_dir=tiny_models_dir, keep_models=True)
    keeping.generate(SETTINGS)
    assert keeping.loaded_model() == "tiny"
    assert keeping.release_models() and keeping.loaded_model() is None


def test_a_worker_keeps_its_model_between_jobs_and_lets_it_go_when_idle(tiny_models_dir, tmp_path, loads):
    store = JobStore(tmp_path / "jobs")
    api = WanAPI(output_dir=tmp_path, models_dir=tiny_models_dir, keep_models=True)
    loop = WorkerLoop(store, "w0", api=api, keep_seconds=3.0, poll_seconds=0.05)
    runner = threading.Thread(target=loop.run, daemon=True)
    runner.start()
    try:
        for seed in (11, 12):
            _, (job_id,) = store.submit([TINY_JOB | {"seed": seed}])
            assert store.assign(job_id, "w0")
            wait_until(lambda job_id=job_id: store.get(job_id).state in ENDED, 240, "the job did not end")
            assert store.get(job_id).state == "succeeded", store.get(job_id).error
            wait_until(lambda: loop.state == "idle", 30, "the worker stayed busy")
            assert loop.info["loaded"] == ["tiny", None] and api.loaded_model() == "tiny"
        assert loads["pipeline"] == 1  # the second job took the first one's pipeline
        wait_until(lambda: loop.info["loaded"] is None, 30, "the idle worker kept its model")
        assert api.loaded_model() is None
    finally:
        loop.stop()
        runner.join(30)


def test_a_worker_that_keeps_nothing_unloads_after_each_job(tiny_models_dir, tmp_path):
    store = JobStore(tmp_path / "jobs")
    api = WanAPI(output_dir=tmp_path, models_dir=tiny_models_dir, keep_models=True)
    loop = WorkerLoop(store, "w0", api=api, keep_seconds=0.0)
    _, (job_id,) = store.submit([TINY_JOB])
    assert store.assign(job_id, "w0")
    loop.run_job(store.claim("w0"))
    assert store.get(job_id).state == "succeeded"
    assert api.loaded_model() is None and loop.info["loaded"] is None


def test_a_job_goes_first_to_a_worker_that_keeps_its_model_loaded(tmp_path):
    store = JobStore(tmp_path)
    _, (job_id,) = store.submit([{"model": "t2v-1.3b", "weights": "auto"}])
    job = store.get(job_id)

    def record(worker_id, **info):
        return WorkerRecord(worker_id, 1, "host", "idle", 0.0, 0.0, info)

    reports = [
        record("w0", model="t2v-1.3b", weights="auto", loaded=None),  # used it, let it go
        record("w1", model="t2v-1.3b", weights="auto", loaded=["t2v-1.3b", "auto"]),
        record("w2", model="vace-1.3b", weights="auto", loaded=["vace-1.3b", "auto"]),
    ]
    assert preferred_worker(["w0", "w1", "w2"], job, reports) == "w1"
    assert preferred_worker(["w0", "w2"], job, reports) == "w0"


@pytest.mark.parametrize("value", ["-1", "1e9", "nan"])
def test_a_bad_keep_model_is_one_line_naming_the_option(value, capsys):
    assert cli_main(["worker", "--queue", "q", "--id", "w", "--keep-model", value]) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--keep-model must be from 0" in error


@pytest.mark.parametrize(
    ("value", "seconds"), [(0, 0.0), (120, 120.0), ("90", 90.0), ("soon", 0.0), (-5, 0.0)]
)
def test_the_webui_setting_for_keeping_the_model(value, seconds, monkeypatch, capsys):
    monkeypatch.setattr(extension, "option", lambda name: value)
    assert extension.keep_model_seconds() == seconds
    said = capsys.readouterr().err
    assert ("is not a number of seconds" in said) == (value in ("soon", -5))
