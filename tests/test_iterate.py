"""Iterating on an animation with the tiny random models on the CPU: a re-render reuses every clip
before the first change byte for byte, a take is never overwritten, post-processing alone renders
nothing, new settings reach a running render between clips, a re-roll changes one clip and the
ones continuing from it, a preview renders small and "render this" keeps its seeds and prompts,
and run folders of the earlier layout still resume."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from tiny_animation import PROMPTS, SETTINGS

from wan.config import InterpolationOptions, config_from_dict
from wan.plan import create_plan
from wan.post.encode import count_frames
from wan.render import RenderOptions, Revision, RunFolder, render
from wan.render.options import config_factors, frame_factors
from wan.render.run_folder import read_png

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")


def config(**overrides):
    return config_from_dict(SETTINGS | overrides)[0]


def plan_of(**overrides):
    return create_plan(config(**overrides))


def options(models_dir, **overrides) -> RenderOptions:
    values = {"models_dir": str(models_dir), "preview_every": 0, "memory": "none", "quality_checks": False}
    return RenderOptions(**values | overrides)


class CallCounter:
    """Counts the pipeline calls (clips rendered); the real call still runs."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = diffusers.WanVACEPipeline.__call__

        def counted(pipe, *args, **kwargs):
            self.calls += 1
            return original(pipe, *args, **kwargs)

        monkeypatch.setattr(diffusers.WanVACEPipeline, "__call__", counted)


def file_digests(folder):
    """Every file under `folder` (relative path -> SHA-256 and modification time)."""
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def clip_bytes(take, index):
    """The PNG bytes of every new frame of a take's clip."""
    clip = take.plan.clips[index]
    return [
        take.model_frame_path(i).read_bytes() for i in range(clip.model_start_frame, clip.model_end_frame)
    ]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def base_run(models_dir, tmp_path_factory):
    """One full render of the base settings (each test works on a copy)."""
    run = tmp_path_factory.mktemp("base") / "run"
    render(plan_of(), run, options=options(models_dir), settings=config().to_dict())
    return run


@pytest.fixture
def run(base_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(base_run, copy)
    return copy


def test_editing_a_later_prompt_renders_only_from_it_and_reuses_the_rest_byte_for_byte(
    models_dir, run, tmp_path, monkeypatch
):
    counter = CallCounter(monkeypatch)
    take_one = file_digests(run / "takes" / "001")
    edited = config(prompts=PROMPTS | {"17": "a frozen lake"})
    result = render(
        create_plan(edited), run, options=options(models_dir), mode="revise", settings=edited.to_dict()
    )
    assert result.take == 2 and result.rendered == (2, 3) and counter.calls == 2
    takes = RunFolder(run).takes()
    assert [t.number for t in takes] == [1, 2] and takes[1].based_on == 1
    assert [c["take"] for c in result.metrics["clips"]] == [1, 1, 2, 2]
    assert [c["reused"] for c in result.metrics["clips"]] == [True, True, False, False]
    assert file_digests(run / "takes" / "001") == take_one  # take 1 is kept as it was
    # the re-render is exactly what a full render of the edited settings gives
    fresh = render(create_plan(edited), tmp_path / "fresh", options=options(models_dir))
    fresh_take = RunFolder(fresh.run_dir).latest()
    for index in range(4):
        assert clip_bytes(takes[1], index) == clip_bytes(fresh_take, index), index
    assert clip_bytes(takes[1], 0) == clip_bytes(takes[0], 0)
    assert clip_bytes(takes[1], 2) != clip_bytes(takes[0], 2)
    assert count_frames(result.video) == 33 and (run / "video.mp4").samefile(result.video)


def test_editing_the_first_prompt_renders_everything(models_dir, run, monkeypatch):
    counter = CallCounter(monkeypatch)
    result = render(
        plan_of(prompts=PROMPTS | {"0": "a burning forest"}), run, options=options(models_dir), mode="revise"
    )
    assert result.rendered == (0, 1, 2, 3) and counter.calls == 4
    assert result.metrics["clips_reused"] == 0


def test_post_processing_alone_renders_nothing_and_makes_a_new_take(models_dir, run, monkeypatch):
    counter = CallCounter(monkeypatch)
    first_video = (run / "takes" / "001" / "video.mp4").read_bytes()
    linear = options(models_dir, interpolation=InterpolationOptions(method="linear"), crf=30)
    result = render(plan_of(), run, options=linear, mode="revise")
    assert result.take == 2 and result.rendered == () and counter.calls == 0
    assert result.metrics["interpolation"]["used"] == "linear" and result.metrics["clips_reused"] == 4
    # the same animation at twice the frame rate needs the same model frames: nothing is rendered
    doubled = {str(int(key) * 2): text for key, text in PROMPTS.items()}
    faster = plan_of(fps=32, max_frames=65, prompts=doubled)
    assert faster.model_frames == plan_of().model_frames
    result = render(faster, run, options=options(models_dir), mode="revise")
    assert result.take == 3 and result.rendered == () and counter.calls == 0
    assert count_frames(result.video) == 65
    # an output fps whose cuts land on other model frames renders again from the first change
    shifted = render(plan_of(fps=24), run, options=options(models_dir), mode="revise")
    assert shifted.rendered and counter.calls == len(shifted.rendered)
    assert (run / "takes" / "001" / "video.mp4").read_bytes() == first_video


def test_a_take_is_never_overwritten(models_dir, run):
    before = file_digests(run / "takes" / "001")
    clips_before = {p.name for p in (run / "clips").iterdir()}
    render(plan_of(clip_seeds={"3": 99}), run, options=options(models_dir), mode="revise")
    render(plan_of(clip_seeds={"3": 99}), run, options=options(models_dir), mode="revise")  # the same again
    third = file_digests(run / "takes" / "003")
    # a resume of a finished take whose output these options made: that take, as it is
    kept = render(plan_of(clip_seeds={"3": 99}), run, options=options(models_dir), resume=True)
    assert kept.take == 3 and kept.clips_rendered == 0 and file_digests(run / "takes" / "003") == third
    # other output options: the output goes into a new take
    render(plan_of(clip_seeds={"3": 99}), run, options=options(models_dir, crf=30), resume=True)
    assert [t.number for t in RunFolder(run).takes()] == [1, 2, 3, 4]
    assert file_digests(run / "takes" / "003") == third
    assert file_digests(run / "takes" / "001") == before
    stored = {p.name: file_digests(p) for p in (run / "clips").iterdir() if p.name in clips_before}
    assert set(stored) == clips_before  # stored clips stay, unchanged (only new ones are added)


def test_a_reroll_changes_its_clip_and_the_ones_after_it(models_dir, run, monkeypatch):
    counter = CallCounter(monkeypatch)
    result = render(plan_of(clip_seeds={"1": 4242}), run, options=options(models_dir), mode="revise")
    assert result.rendered == (1, 2, 3) and counter.calls == 3
    first, rerolled = RunFolder(run).takes()
    assert result.plan.clips[1].seed == 4242
    assert clip_bytes(rerolled, 0) == clip_bytes(first, 0)
    assert clip_bytes(rerolled, 1) != clip_bytes(first, 1)
    last = render(plan_of(clip_seeds={"1": 4242, "3": 5}), run, options=options(models_dir), mode="revise")
    assert last.rendered == (3,) and counter.calls == 4


def test_new_settings_between_clips_go_on_in_a_new_take(models_dir, tmp_path, monkeypatch):
    counter = CallCounter(monkeypatch)
    done: list[int] = []
    later = plan_of(prompts=PROMPTS | {"25": "a starry sky"})
    handed = []

    def replan():
        if done == [0, 1] and not handed:
            handed.append(True)
            return Revision(later, options(models_dir), {"note": "patched"})
        return None

    result = render(
        plan_of(),
        tmp_path / "run",
        options=options(models_dir),
        callback=lambda e: done.append(e.clip) if e.kind == "clip_done" else None,
        replan=replan,
    )
    assert handed and counter.calls == 4  # no clip rendered twice
    first, adjusted = RunFolder(tmp_path / "run").takes()
    assert result.take == 2 and adjusted.based_on == 1 and not first.finished
    assert adjusted.record["reason"] == "settings changed during the render"
    assert adjusted.settings == {"note": "patched"} and result.plan.clips[3].prompt.startswith("a starry sky")
    assert [c["take"] for c in result.metrics["clips"]] == [1, 1, 2, 2]
    assert clip_bytes(adjusted, 0) == clip_bytes(first, 0)


def test_new_settings_that_change_a_finished_clip_render_it_again(models_dir, tmp_path, monkeypatch):
    """The race a PATCH can lose (the clip finished meanwhile): the new take renders it again."""
    counter = CallCounter(monkeypatch)
    done: list[int] = []
    changed = plan_of(prompts=PROMPTS | {"0": "a burning forest"})
    result = render(
        plan_of(),
        tmp_path / "run",
        options=options(models_dir),
        callback=lambda e: done.append(e.clip) if e.kind == "clip_done" else None,
        replan=lambda: Revision(changed, options(models_dir)) if done == [0] else None,
    )
    assert counter.calls == 5 and result.rendered == (0, 1, 2, 3)
    assert result.plan.clips[0].prompt.startswith("a burning forest")


def test_a_preview_renders_small_and_render_this_keeps_its_seeds_and_prompts(models_dir, tmp_path):
    from wan.service import WanAPI

    api = WanAPI(output_dir=tmp_path, models_dir=models_dir)
    settings = SETTINGS | {"seed": -1, "steps": 3, "preview_enabled": True}
    preview = api.generate(settings)
    assert (preview.plan.width, preview.plan.height, preview.plan.steps) == (32, 32, 3)
    assert read_png(preview.frames_dir / "000000.png").shape == (32, 32, 3)
    full = api.generate(settings | {"preview_enabled": False, "from_run": str(preview.run_dir)})
    assert full.run_dir == preview.run_dir and full.take == 2 and full.rendered == (0, 1, 2, 3)
    assert (full.plan.width, full.plan.height, full.plan.steps) == (64, 64, 3)
    assert [(c.seed, c.prompt) for c in full.plan.clips] == [(c.seed, c.prompt) for c in preview.plan.clips]
    assert read_png(full.frames_dir / "000000.png").shape == (64, 64, 3)


def test_a_run_folder_of_the_earlier_layout_resumes(models_dir, base_run, tmp_path, monkeypatch):
    """plan.json, settings.json, model_frames/ and clips/NNNN.json at the top, two clips done."""
    take = RunFolder(base_run).latest()
    legacy = tmp_path / "legacy"
    (legacy / "model_frames").mkdir(parents=True)
    (legacy / "clips").mkdir()
    shutil.copy(take.plan_path, legacy / "plan.json")
    shutil.copy(take.settings_path, legacy / "settings.json")
    for clip in take.plan.clips[:2]:
        for i in range(clip.model_start_frame, clip.model_end_frame):
            shutil.copy(take.model_frame_path(i), legacy / "model_frames" / f"{i:06d}.png")
        metadata = {k: v for k, v in take.clip_metadata(clip.index).items() if k not in ("take", "reused")}
        (legacy / "clips" / f"{clip.index:04d}.json").write_text(json.dumps(metadata))
    counter = CallCounter(monkeypatch)
    result = render(take.plan, legacy, options=options(models_dir), resume=True)
    assert counter.calls == 2 and result.rendered == (2, 3) and result.take == 1
    converted = RunFolder(legacy).latest()
    assert converted.record["reason"].startswith("converted")
    assert (legacy / "model_frames" / "000000.png").is_file()  # the old files stay
    for index in range(4):
        assert clip_bytes(converted, index) == clip_bytes(take, index)


def test_a_clip_is_stored_completely_or_not_at_all(tmp_path):
    plan = plan_of()
    folder = RunFolder(tmp_path / "run")
    take = folder.start(plan, None, mode="new", factors=frame_factors(RenderOptions()))
    frames = np.zeros((plan.clips[0].new_frames, 64, 64, 3), np.uint8)

    def failing(target):
        (target / "000000.png").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        folder.store_clip(take.fingerprints[0], failing, {})
    assert not take.is_finished(plan.clips[0]) and list((tmp_path / "run" / "clips").iterdir()) == []
    take.write_clip(plan.clips[0], frames, {"seconds": 1.0})
    assert take.is_finished(plan.clips[0]) and take.clip_metadata(0)["frames"] == plan.clips[0].new_frames
    with pytest.raises(ValueError, match="new frames"):
        take.write_clip(plan.clips[1], frames[:2], {})


def test_what_a_re_render_will_do_is_known_before_it_starts(models_dir, run):
    take = RunFolder(run).latest()
    assert take.record["factors"]["weights"] == "bf16"  # what weights auto loaded on the CPU
    edited = config(prompts=PROMPTS | {"17": "a frozen lake"})
    assert config_factors(edited)["weights"] == "auto"
    rows = RunFolder(run).reuse(create_plan(edited), config_factors(edited, take.auto_picked()))
    assert [(r.index, r.reused, r.take) for r in rows] == [
        (0, True, 1),
        (1, True, 1),
        (2, False, None),
        (3, False, None),
    ]
    assert rows[2].changed == ("prompt",) and rows[3].changed == ("the clip before it",)
