"""The tab's actions without gradio: import, presets, analysis, jobs, progress lines."""

import json
import time
from pathlib import Path

import pytest

from wan.config import WanConfig
from wan.service import JobService, WanAPI
from wan.ui.actions import (
    FORM_KEYS,
    TabActions,
    config_from_values,
    form_values,
    progress_line,
    settings_from_values,
)

ROOT = Path(__file__).parent.parent


def instant(job, control, report):
    return {"done": True}


@pytest.fixture
def uploads(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    return folder


@pytest.fixture
def actions(tmp_path, uploads):
    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", generate=instant)
    yield TabActions(service, uploads=[uploads])
    service.close()


def test_form_values_round_trip_a_config():
    config = WanConfig(prompts={"0": "a fox", "24": "a den"}, max_frames=48, fps=24)
    values = form_values(config)
    assert len(values) == len(FORM_KEYS) and FORM_KEYS[0] == "prompts"
    assert config_from_values(values) == config


def test_bad_form_values_name_the_field():
    values = form_values(WanConfig())
    values[0] = '{"0": "a fox"'
    with pytest.raises(Exception, match="prompts: must be a JSON object"):
        settings_from_values(values)


def test_importing_a_deforum_file_fills_the_form(actions, uploads):
    upload = uploads / "deforum_settings.txt"
    upload.write_bytes((ROOT / "examples" / "deforum_settings.txt").read_bytes())
    values, message = actions.import_file(str(upload))
    assert (
        message.startswith("Imported deforum_settings.txt.") and "Ignored 228 Deforum setting(s)" in message
    )
    data = dict(zip(FORM_KEYS, values, strict=True))
    assert json.loads(data["prompts"])["0"].startswith("a misty pine forest at dawn")
    assert data["max_frames"] == 192


def test_only_uploaded_files_are_read(actions, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"prompts": {"0": "the server\'s secret"}, "api_key": "hunter2"}')
    for path in (secret, "/etc/passwd", f"{tmp_path}/uploads/../secret.json"):
        values, message = actions.import_file(str(path))
        assert (
            values is None and message == "⚠ that is not an uploaded file; choose the file with the file box"
        )
    assert actions.submit_files([str(secret)]).startswith("⚠ secret.json: that is not an uploaded file")


def test_unknown_keys_are_named_but_their_values_never_shown(actions, uploads):
    leaky = uploads / "leaky.json"
    leaky.write_text('{"max_frames": 17, "password": "hunter2"}')
    values, message = actions.import_file(str(leaky))
    assert values is None and "password: unknown setting" in message and "hunter2" not in message


def test_importing_a_broken_file_explains(actions, uploads):
    broken = uploads / "broken.json"
    broken.write_text('{"W": 10}')
    values, message = actions.import_file(str(broken))
    assert values is None and "W: must be a whole number from 64 to 2048" in message
    assert actions.import_file(None) == (None, "Choose a settings file first.")


def test_presets_save_list_load(actions):
    values = form_values(WanConfig(max_frames=33))
    assert actions.save_preset("my look", values) == "Saved preset my look."
    assert actions.preset_names() == ["my look"]
    loaded, _message = actions.load_preset("my look")
    assert dict(zip(FORM_KEYS, loaded, strict=True))["max_frames"] == 33
    assert actions.save_preset("../escape", values).startswith("⚠ A preset name")
    assert actions.load_preset("missing")[0] is None


def test_export_writes_a_settings_file(actions):
    path, _message = actions.export_settings(form_values(WanConfig(max_frames=21)))
    assert json.loads(Path(path).read_text())["max_frames"] == 21


def test_analysis_table_has_a_row_per_clip(actions):
    config = WanConfig(prompts={"0": "a fox", "16": "a den"}, max_frames=32, fps=16, translation_x="0:(3)")
    rows, _image, message = actions.analyse(form_values(config), plot=False)
    assert [row[0] for row in rows] == [0, 1]
    assert "panning" in rows[0][3] and rows[0][4].startswith("a fox")
    assert message.startswith("2 clip(s)")
    values = form_values(config)
    values[FORM_KEYS.index("W")] = 10
    assert actions.analyse(values, plot=False)[2].startswith("⚠ 1 setting is not valid")


def test_enhancement_preview_with_strength_zero_needs_no_model(actions):
    values = form_values(WanConfig(prompts={"0": "a fox"}, max_frames=17))
    values[FORM_KEYS.index("enhance_strength")] = 0
    rows, message = actions.preview_enhancement(values)
    assert rows[0][1] == rows[0][2]
    assert message == "0 of 1 prompt(s) rewritten."


def test_generate_follow_and_control_a_job(actions):
    job_id, message = actions.generate(form_values(WanConfig(max_frames=17)))
    assert message == f"Queued job {job_id[:8]}."
    deadline = time.time() + 10
    while actions.status(job_id)["state"] != "succeeded" and time.time() < deadline:
        time.sleep(0.05)
    assert actions.status(job_id)["state"] == "succeeded"
    assert actions.act("pause", job_id).startswith("⚠ job")
    assert actions.act("pause", "") == "No job yet."
    assert actions.job_rows()[0][:2] == [job_id, "succeeded"]
    assert actions.status("f" * 32)["progress"].startswith("⚠ job")


def test_batch_of_files_is_one_batch(actions, uploads):
    files = []
    for frames in (17, 21):
        path = uploads / f"s{frames}.json"
        path.write_text(json.dumps({"max_frames": frames}))
        files.append(str(path))
    message = actions.submit_files(files)
    assert message.startswith("Queued batch") and message.endswith("2 job(s).")
    bad = uploads / "bad.json"
    bad.write_text("{")
    assert actions.submit_files([str(bad)]).startswith("⚠ bad.json")


def test_progress_lines():
    running = {
        "state": "running",
        "progress": {
            "clip": 1,
            "clips": 4,
            "step": 12,
            "steps": 30,
            "seconds_per_step": 1.84,
            "eta_seconds": 310,
            "frames_done": 32,
            "frames_total": 129,
            "kind": "step",
        },
    }
    assert (
        progress_line(running) == "running · clip 2/4 · step 12/30 · 1.84 s/step · ETA 5m10s · frames 32/129"
    )
    done = {
        "state": "succeeded",
        "progress": {"clip": 0, "clips": 4, "frames_done": 129, "frames_total": 129},
    }
    assert progress_line(done) == "succeeded · 4 clip(s) · frames 129/129"
    assert progress_line({"state": "failed", "progress": {}, "error": "boom"}) == "failed · boom"
