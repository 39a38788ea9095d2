"""Model files: `python -m wan models download ID` (a free-disk check before, resumable, progress),
its offline error, `remove ID` (never outside the models folder), and the tab's model list whose
downloads run as runtime processes. Nothing here reaches the network: the hub is replaced where a
download would start, and the offline runs meet huggingface_hub's own offline mode."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from wan.cli import main
from wan.models.download import (
    DISK_MARGIN_BYTES,
    DownloadRefused,
    download_model,
    plan_download,
    progress_line,
    remove_model,
)
from wan.models.resolve import ModelNotFoundError
from wan.service import JobService, WanAPI
from wan.ui.actions import TabActions

GB = 1024**3


class FakeHub:
    """snapshot_download: a dry run lists `files` (name -> size); a download writes them."""

    def __init__(self, files: dict[str, int]) -> None:
        self.files, self.downloads = files, []

    def __call__(self, repo_id, *, local_dir, allow_patterns=None, dry_run=False, **_):
        from huggingface_hub.file_download import DryRunFileInfo

        local = Path(local_dir)
        if dry_run:
            return [
                DryRunFileInfo(
                    commit_hash="0" * 40,
                    file_size=size,
                    filename=name,
                    local_path=str(local / name),
                    is_cached=(local / name).is_file(),
                    will_download=not (local / name).is_file() or (local / name).stat().st_size != size,
                )
                for name, size in self.files.items()
            ]
        self.downloads.append((repo_id, allow_patterns))
        for name, size in self.files.items():
            (local / name).parent.mkdir(parents=True, exist_ok=True)
            (local / name).write_bytes(b"\0" * size)
        return str(local)


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub

    fake = FakeHub({"model_index.json": 100, "transformer/diffusion_pytorch_model.safetensors": 5000})
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    return fake


def free_space(monkeypatch, free: int) -> None:
    import shutil

    usage = shutil.disk_usage("/")
    monkeypatch.setattr("wan.models.download.shutil.disk_usage", lambda _path: usage._replace(free=free))


def test_a_download_is_refused_when_the_disk_lacks_room(hub, monkeypatch, tmp_path):
    hub.files["transformer_2/diffusion_pytorch_model.safetensors"] = 40 * GB
    free_space(monkeypatch, 30 * GB)
    with pytest.raises(DownloadRefused) as caught:
        download_model("t2v-a14b", tmp_path, out=io.StringIO())
    message = str(caught.value)
    assert "t2v-a14b needs 40.0 GB more (of 40.0 GB)" in message and "has 30.0 GB free" in message
    assert hub.downloads == []  # refused before anything was fetched


def test_a_download_fetches_what_diffusers_loads_and_resumes(hub, monkeypatch, tmp_path):
    free_space(monkeypatch, 100 * GB)
    out = io.StringIO()
    folder = download_model("ti2v-5b", tmp_path, out=out)
    assert folder == tmp_path / "ti2v-5b" and (folder / "model_index.json").is_file()
    ((repo, patterns),) = hub.downloads
    assert (
        repo == "Wan-AI/Wan2.2-TI2V-5B-Diffusers"
        and "*/*.safetensors" in patterns
        and "*.pth" not in patterns
    )
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("downloading Wan-AI/Wan2.2-TI2V-5B-Diffusers into") and "2 files" in lines[0]
    assert "(100 %)" in lines[-2] and lines[-1].startswith("done: ti2v-5b is in")
    # what is there already is not counted again: a second run has nothing missing
    plan = plan_download("ti2v-5b", tmp_path)
    assert (plan.total_bytes, plan.missing_bytes, plan.fits) == (5100, 0, True)
    assert plan.free_bytes >= plan.missing_bytes + DISK_MARGIN_BYTES


def test_offline_the_download_says_so_with_the_command(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError) as caught:
        download_model("t2v-a14b", tmp_path, out=io.StringIO())
    message = str(caught.value)
    assert "cannot ask the hub about Wan-AI/Wan2.2-T2V-A14B-Diffusers" in message
    assert f"hf download Wan-AI/Wan2.2-T2V-A14B-Diffusers --local-dir {tmp_path / 't2v-a14b'}" in message


def test_the_download_command_and_its_errors(monkeypatch, tmp_path, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["models", "download", "t2v-a14b", "--models-dir", str(tmp_path)]) == 2
    assert "cannot ask the hub" in capsys.readouterr().err
    assert main(["models", "download", "tiny"]) == 2
    assert "tiny is built on this machine when it is first used" in capsys.readouterr().err
    assert main(["models", "download"]) == 2
    assert "models download needs a model id" in capsys.readouterr().err
    assert main(["models", "download", "nonsense"]) == 2
    assert "unknown model 'nonsense'" in capsys.readouterr().err


def test_progress_is_a_bar_with_gigabytes_and_speed():
    assert progress_line(GB, 4 * GB, 10.0) == "[######------------------] 1.00 of 4.00 GB (25 %) 102.4 MB/s"
    assert "(100 %)" in progress_line(5, 5, 0.0)


def test_remove_deletes_the_models_folders_and_nothing_outside(tmp_path, capsys):
    models = tmp_path / "models"
    (models / "t2v-a14b" / "transformer").mkdir(parents=True)
    (models / "t2v-a14b" / "transformer" / "weights.safetensors").write_bytes(b"x")
    outside = tmp_path / "elsewhere" / "Wan2.2-T2V-A14B-Diffusers"
    outside.mkdir(parents=True)
    (outside / "keep.txt").write_text("mine")
    (models / "Wan2.2-T2V-A14B-Diffusers").symlink_to(outside, target_is_directory=True)
    (models / "vace-1.3b").mkdir()
    removed = remove_model("t2v-a14b", models)
    assert removed == [models / "t2v-a14b", models / "Wan2.2-T2V-A14B-Diffusers"]
    assert not (models / "t2v-a14b").exists() and not (models / "Wan2.2-T2V-A14B-Diffusers").is_symlink()
    assert (outside / "keep.txt").read_text() == "mine" and (models / "vace-1.3b").is_dir()
    assert main(["models", "remove", "t2v-a14b", "--models-dir", str(models)]) == 0
    assert "t2v-a14b is not in the models folder" in capsys.readouterr().out
    with pytest.raises(DownloadRefused, match="unknown model"):
        remove_model("../..", models)


# -- in the tab -----------------------------------------------------------------------------------


def instant(job, control, report):
    return {"done": True}


def service_of(tmp_path, *, allow_download: bool) -> JobService:
    api = WanAPI(output_dir=tmp_path, models_dir=tmp_path / "models", allow_download=allow_download)
    return JobService(api, tmp_path / "jobs", generate=instant)


def test_the_tabs_model_list_shows_sizes_and_what_is_here(tmp_path):
    (tmp_path / "models" / "ti2v-5b").mkdir(parents=True)
    (tmp_path / "models" / "ti2v-5b" / "model_index.json").write_text('{"_class_name": "WanPipeline"}')
    service = service_of(tmp_path, allow_download=False)
    try:
        actions = TabActions(service)
        rows = {row[0]: row for row in actions.model_rows()}
        assert "tiny" not in rows and "vace-fun-a14b" in rows
        assert rows["t2v-a14b"][1:5] == ["t2v (2 experts)", "16 fps, 81", "64.3 GB", "10.0 GB"]
        assert rows["ti2v-5b"][2] == "24 fps, 121" and rows["ti2v-5b"][5].endswith("ti2v-5b")
        assert rows["t2v-a14b"][5] == "no"
        message = actions.download("t2v-a14b")
        assert message.startswith("⚠ downloads are off on this server") and not service.downloads.active()
        assert actions.download("tiny").startswith("⚠ 'tiny' is not a model to download")
        assert (
            "2 experts (boundary 0.9)" in TabActions.model_facts("i2v-a14b")
            and TabActions.model_facts("x") == ""
        )
        assert "24 fps, clips of up to 121 frames" in TabActions.model_facts("ti2v-5b")
    finally:
        service.close()


def test_a_download_from_the_tab_runs_in_a_runtime_process_and_reports_its_end(tmp_path):
    service = service_of(tmp_path, allow_download=True)
    try:
        actions = TabActions(service)
        message = actions.download("t2v-a14b")
        assert message.startswith(f"Downloading t2v-a14b into {tmp_path / 'models'}")
        deadline = time.monotonic() + 120
        while actions.downloading() and time.monotonic() < deadline:
            time.sleep(0.5)
        # the tests run offline (HF_HUB_OFFLINE), so the process ends with the hub's refusal
        status = service.downloads.status()["t2v-a14b"]
        assert status["state"] == "failed" and "cannot ask the hub" in status["line"]
        row = next(row for row in actions.model_rows() if row[0] == "t2v-a14b")
        assert row[6].startswith("failed: ")
    finally:
        service.close()
