"""The tab's iteration controls without gradio (wan.ui.iterating): the timeline of a run, picking,
editing and re-rolling a clip, what "Re-render changes" will do, re-render / preview / render-this
jobs, new settings for a followed job, and the camera plot."""

from __future__ import annotations

import json

import pytest
from tiny_animation import PROMPTS, SETTINGS

from wan.config import config_from_dict
from wan.plan import create_plan
from wan.service import JobService, WanAPI
from wan.ui.actions import FORM_KEYS, TabActions, form_values, settings_from_values
from wan.ui.iterating import IterateActions, reuse_summary, with_setting


def values(**overrides):
    return form_values(config_from_dict(SETTINGS | overrides)[0])


def recorded(job, control, report):
    return {"settings": job.settings}


@pytest.fixture
def act(tmp_path):
    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", generate=recorded, start=False)
    yield IterateActions(TabActions(service))
    service.close()


@pytest.fixture(scope="module")
def rendered_run(tmp_path_factory):
    pytest.importorskip("diffusers")
    from wan.render import RenderOptions, render

    folder = tmp_path_factory.mktemp("ui-run")
    config = config_from_dict(SETTINGS)[0]
    options = RenderOptions(models_dir=str(folder / "models"), preview_every=0, memory="none")
    render(create_plan(config), folder / "run", options=options, settings=config.to_dict())
    return folder / "run"


@pytest.fixture
def run(rendered_run, tmp_path):
    """A copy of the rendered run inside the service's output folder (callers may name only
    folders there)."""
    import shutil

    return shutil.copytree(rendered_run, tmp_path / "runs" / "run")


def test_a_run_outside_the_output_folder_is_not_allowed(act, rendered_run):
    rows, message = act.compare(values(), run_dir=str(rendered_run))
    assert rows == [] and "from_run" in message and "not allowed" in message


def test_the_timeline_of_a_plan_and_of_a_run(act, run, rendered_run):
    gallery, shown, rows, message = act.timeline(values())
    assert gallery == [] and [row[0] for row in rows] == [0, 1, 2, 3] and "not rendered yet" in message
    assert "not allowed" in act.timeline(values(), run_dir=str(rendered_run))[3]
    gallery, shown, rows, message = act.timeline(values(), run_dir=str(run))
    assert shown == [0, 1, 2, 3] and len(gallery) == 4 and message.startswith("Take 1 of")
    from PIL import Image

    with Image.open(gallery[0][0]) as thumbnail:
        assert thumbnail.height == 96 and thumbnail.width > 2 * 96  # first | last frame
    assert gallery[1][1].startswith("clip 1 · 9-16 · seed 8 · take 1")
    assert rows[2][:4] == [2, "17-24", 9, 1] and rows[2][5].startswith("a lake")


def test_pick_edit_and_reroll_a_clip(act):
    clip, text, message = act.select(values(), 1)
    assert (clip, text) == (1, "a stone castle") and "keyframe '9'" in message
    prompts, message = act.edit(values(), 1, "a ruined castle")
    assert json.loads(prompts) == PROMPTS | {"9": "a ruined castle"} and "Prompt '9' changed" in message
    seeds, message = act.reroll(values(), 2, seed=1234)
    assert json.loads(seeds) == {"2": 1234} and "Clip 2 gets seed 1234 (was 9)" in message
    again, _ = act.reroll(with_setting(values(), "clip_seeds", seeds), 0, seed=5)
    assert json.loads(again) == {"0": 5, "2": 1234}
    assert act.select(values(), 9)[2].startswith("⚠") and act.edit(values(), "x", "y")[1].startswith("⚠")


def test_re_render_changes_lists_reused_and_rendered_clips_before_it_starts(act, run):
    edited = values(prompts=PROMPTS | {"17": "a frozen lake"})
    rows, message = act.compare(edited, run_dir=str(run))
    assert [row[3] for row in rows] == [
        "reuse (take 1)",
        "reuse (take 1)",
        "render: prompt changed",
        "render: the clip before it changed",
    ]
    assert message == "Renders 2 clip(s) (2-3), reuses 2 (0-1); the first change is clip 2 (prompt)."
    rows, message = act.compare(values(output_crf=30), run_dir=str(run))
    assert message.startswith("Nothing to render: all 4 clip(s) are reused")
    assert act.compare(edited)[1].startswith("⚠ Follow a job or name a run folder")
    job_id, message = act.rerender(edited, run_dir=str(run))
    assert message == f"Re-render: queued job {job_id[:8]}."
    job = act.service.get(job_id)
    assert job.run_dir == str(run) and job.settings["from_run"] == str(run)
    assert act.run_of(job_id, "") == str(run)


def test_preview_then_render_this(act, run):
    job_id, message = act.preview(values())
    assert message.startswith("Preview: queued job") and act.service.get(job_id).settings["preview_enabled"]
    full, message = act.render_this(values(preview_enabled=True), run_dir=str(run))
    settings = act.service.get(full).settings
    assert not settings["preview_enabled"] and settings["from_run"] == str(run)
    assert act.render_this(values())[1].startswith("⚠")


def test_new_settings_for_the_followed_job(act):
    _batch, (job_id,) = act.service.submit(settings_from_values(values()))
    act.service.pause(job_id)  # held (no worker runs here): its settings may change
    message = act.adjust(values(steps=3), job_id)
    assert "takes the new settings" in message and act.service.get(job_id).settings["steps"] == 3
    assert act.adjust(values(), "").startswith("⚠ No job")
    other = act.service.api.output_dir / "other-run"
    other.mkdir()
    (other / "plan.json").write_text(create_plan(config_from_dict(SETTINGS)[0]).to_json())  # a run
    moved = act.adjust(with_setting(values(), "from_run", str(other)), job_id)
    assert moved.startswith("⚠") and "from_run" in moved and "own run folder" in moved


def test_reuse_summary_names_runs_of_clips():
    from wan.render import ClipReuse

    rows = [ClipReuse(i, "f", i < 3, 1 if i < 3 else None, () if i < 3 else ("seed",)) for i in range(6)]
    assert (
        reuse_summary(rows) == "Renders 3 clip(s) (3-5), reuses 3 (0-2); the first change is clip 3 (seed)."
    )


def test_the_camera_plot_of_the_form(act):
    pytest.importorskip("matplotlib")
    image, message = act.tab.camera_plot(values(translation_x="0:(3)"))
    assert image is not None and image.endswith(".png") and message == ""
    assert act.tab.camera_plot(with_setting(values(), "translation_x", "0:(sinn(t))"))[1].startswith("⚠")
    assert FORM_KEYS.index("clip_seeds") > FORM_KEYS.index("seed")
