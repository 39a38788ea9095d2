"""GPU detection and the --gpus value: what /system, `models --system` and the tab report, and
which GPUs a server's workers get. This machine has no GPU: the real probes report none here;
one test gives torch.cuda a stand-in device to check the fields, the only way to see them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_until
from hypothesis import given
from hypothesis import strategies as st

from wan.models.devices import describe_gpu, device_vram_gb, physical_index, probe_gpus
from wan.runtime import RuntimeEnv
from wan.service import JobService, WanAPI
from wan.service.gpus import (
    GpuSelectionError,
    parse_gpus,
    probe_in_runtime,
    select_gpus,
    unique_gpus,
)
from wan.ui.gpus import gpu_markdown

ROOT = Path(__file__).parent.parent


def _gpus(*indices):
    return [describe_gpu(i, f"GPU model {i}", 24 * 2**30, 20 * 2**30, (8, 9)) for i in indices]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("all", [0, 1, 2]), ("ALL", [0, 1, 2]), ("2", [0, 1]), ("1", [0]), ("0,2", [0, 2]), (" 2 , 1 ", [2, 1])],
)
def test_gpus_values_pick_gpus(value, expected):
    assert select_gpus(parse_gpus(value), _gpus(0, 1, 2)) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is not all, a number of GPUs"),
        ("two", "is not all, a number of GPUs"),
        ("-1", "is not all"),
        ("0", "must be at least 1 GPU"),
        ("1,1", "names a GPU twice"),
        ("1.5", "is not all"),
        ("0,,1", "is not all"),
    ],
)
def test_bad_gpus_values_name_the_option_and_what_is_allowed(value, message):
    with pytest.raises(GpuSelectionError, match=message) as caught:
        parse_gpus(value)
    assert str(caught.value).startswith("--gpus: ")
    assert "\n" not in str(caught.value)


@given(st.text(max_size=12))
def test_any_gpus_text_is_parsed_or_refused_in_one_line(text):
    try:
        request = parse_gpus(text)
    except GpuSelectionError as exc:
        message = str(exc)
    else:
        message = "--gpus ok"
        assert request.every or request.count or request.indices
    assert message.startswith("--gpus") and "\n" not in message


def test_gpus_that_do_not_exist_are_refused_with_what_exists():
    with pytest.raises(GpuSelectionError, match="there is no GPU 3; this machine has 2 GPU"):
        select_gpus(parse_gpus("0,3"), _gpus(0, 1))
    with pytest.raises(GpuSelectionError, match="ask for at most 2"):
        select_gpus(parse_gpus("4"), _gpus(0, 1))


def test_gpus_on_a_machine_without_gpu_say_so_and_point_to_cpu_workers():
    with pytest.raises(GpuSelectionError, match=r"--gpus all: no GPU was found.*--workers N"):
        select_gpus(parse_gpus("all"), [])


def test_this_machine_reports_no_gpu_and_the_cpu_preset():
    assert probe_gpus() == []
    assert device_vram_gb() is None and device_vram_gb("cpu") is None
    info = WanAPI().system_info()
    assert info["gpus"] == [] and info["gpu"] is None and info["suggested_memory_preset"] == "none"


def test_a_runtime_process_reports_the_gpus_it_sees():
    assert probe_in_runtime(RuntimeEnv.current()) == []


def test_models_system_prints_the_gpus_and_versions():
    command = [sys.executable, "-m", "wan", "models", "--system"]
    text = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert "no GPU (torch sees no CUDA device)" in text and "torch " in text
    data = json.loads(
        subprocess.run([*command, "--json"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    )
    assert data["gpus"] == [] and data["versions"]["torch"]


def test_probe_reports_every_device_with_its_own_preset(monkeypatch):
    """torch.cuda with two stand-in devices (no GPU here): each gets its fields and preset."""
    import torch

    class Properties:
        def __init__(self, name, total, major, minor):
            self.name, self.total_memory, self.major, self.minor = name, total, major, minor

    devices = [Properties("Big", 80 * 2**30, 9, 0), Properties("Small", 6 * 2**30, 7, 5)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: devices[i])
    monkeypatch.setattr(
        torch.cuda, "mem_get_info", lambda i: (devices[i].total_memory // 2, devices[i].total_memory)
    )
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    gpus = probe_gpus()
    assert [g["name"] for g in gpus] == ["Big", "Small"]
    assert [g["physical_index"] for g in gpus] == [3, 5]
    assert gpus[0] | {} == {
        "index": 0,
        "physical_index": 3,
        "name": "Big",
        "vram_gb": 80.0,
        "free_gb": 40.0,
        "compute_capability": "9.0",
        "memory_preset": "conservative",
    }
    assert gpus[1]["memory_preset"] == "aggressive" and gpus[1]["compute_capability"] == "7.5"
    assert device_vram_gb() == 6.0 and device_vram_gb("cuda:0") == 80.0  # the render's own device


def test_physical_index_follows_cuda_visible_devices():
    assert physical_index(0, {}) == 0
    assert physical_index(1, {"CUDA_VISIBLE_DEVICES": "2,7"}) == 7
    assert physical_index(0, {"CUDA_VISIBLE_DEVICES": "GPU-abc"}) == "GPU-abc"


def test_system_lists_each_gpu_the_workers_report_once(tmp_path):
    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", generate=lambda *a: {}, start=False)
    try:
        for worker, gpu in (("worker-0", 0), ("worker-1", 1), ("worker-1b", 1)):
            reported = _gpus(gpu)[0] | {"index": 0, "physical_index": gpu}
            service.store.report_worker(worker, "idle", gpu=reported, device="cuda:0")
        info = service.system_info()
        assert [g["physical_index"] for g in info["gpus"]] == [0, 1]
        assert info["gpus"][0]["memory_preset"] == "conservative"
        text = gpu_markdown(info)
        assert "GPU 1: GPU model 1" in text and "24.0 GiB" in text and "worker `worker-1`" in text
        service.store.report_worker("worker-0", "idle", model="tiny", loaded=["tiny", None], device="cuda:0")
        service.store.report_worker("worker-1", "idle", model="tiny", loaded=None, device="cuda:0")
        text = gpu_markdown(service.system_info())
        assert "`worker-0` on cuda:0: idle, keeps tiny loaded" in text
        assert "`worker-1` on cuda:0: idle, last job: tiny" in text
    finally:
        service.close()


def test_unique_gpus_orders_by_machine_index():
    reports = [{"physical_index": 10}, {"physical_index": 2}, {"physical_index": 2}, {"index": 0}]
    assert [g.get("physical_index", g.get("index")) for g in unique_gpus(reports)] == [0, 2, 10]


def test_the_panel_says_the_cpu_renders_without_gpu():
    assert "No GPU found" in gpu_markdown({"gpus": [], "service": {"workers": []}})


def test_system_answers_while_the_gpu_probe_is_slow_and_one_probe_serves_every_caller(tmp_path, monkeypatch):
    """The first GET /system looked for GPUs in a runtime process inside the request: on a busy
    machine importing torch took longer than a client waits, and callers asking at once each
    started a process."""
    import threading

    import wan.service.job_service as job_service

    probes, release = [], threading.Event()

    def slow_probe(runtime):
        probes.append(runtime)
        release.wait(60)
        return _gpus(0)

    monkeypatch.setattr(job_service, "probe_in_runtime", slow_probe)
    monkeypatch.setattr(job_service, "GPU_PROBE_WAIT_SECONDS", 0.2)
    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", generate=lambda *a: {}, start=False)
    assert service.runtime.status().ready  # this interpreter
    try:
        answers = []
        callers = [threading.Thread(target=lambda: answers.append(service.system_info())) for _ in range(4)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(30)
        assert len(answers) == 4 and len(probes) == 1
        assert all(a["gpus"] == [] and "still looking for GPUs" in a["gpu_probe"] for a in answers)
        assert gpu_markdown(answers[0]).startswith("Looking for GPUs: still looking")
        release.set()
        wait_until(lambda: service.probed_gpus is not None, 30, "the probe did not end")
        info = service.system_info()
        assert "gpu_probe" not in info and [g["name"] for g in info["gpus"]] == ["GPU model 0"]
        assert len(probes) == 1
    finally:
        release.set()
        service.close()
