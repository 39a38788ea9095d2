"""The WebUI entry files against the WebUI's contracts, with stand-ins for its modules."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_preload_adds_the_flags():
    parser = argparse.ArgumentParser()
    load(ROOT / "preload.py", "wan_preload").preload(parser)
    args = parser.parse_args(["--wan-models-dir", "/m", "--wan-output-dir", "/o", "--wan-disable-api"])
    assert (args.wan_models_dir, args.wan_output_dir) == ("/m", "/o")
    assert args.wan_disable_api and not args.wan_allow_download


def test_the_api_can_be_left_out_on_a_shared_server(monkeypatch, tmp_path):
    fastapi = pytest.importorskip("fastapi")
    host = FakeWebUI(monkeypatch, tmp_path, disable_api=True)
    host.load_script()
    app = fastapi.FastAPI()
    try:
        host.callbacks["app_started"][0](None, app)
        assert not any(path.startswith("/wan/") for path in app.openapi()["paths"])
    finally:
        host.callbacks["script_unloaded"][0]()


def _fake_versions(monkeypatch, versions):
    from wan import requirements

    real = requirements.installed_version
    monkeypatch.setattr(requirements, "installed_version", lambda name: versions.get(name, real(name)))


def test_installer_installs_only_what_is_missing(monkeypatch):
    installer = load(ROOT / "install.py", "wan_install")
    calls = []
    launch = types.SimpleNamespace(run_pip=lambda command, desc: calls.append(command))
    assert installer.install_missing(launch) == [] and calls == []  # this environment has everything

    _fake_versions(monkeypatch, {"numpy": "1.22.4", "numexpr": None, "diffusers": None})
    held = []

    def run_pip(command, desc):
        calls.append(command.split(" -c ")[0])
        held.append(Path(command.split(" -c ")[1].strip('"')).read_text().split())

    launch.run_pip = run_pip
    assert installer.install_missing(launch) == ["numpy>=1.23", "numexpr>=2.8.5", "diffusers>=0.35"]
    assert calls == ['install "numpy>=1.23"', 'install "numexpr>=2.8.5"', 'install "diffusers>=0.35"']
    # the host's packages are held where they are; numpy, being upgraded, is not held
    pins = {line.split("==")[0] for line in held[0]}
    assert {"pydantic", "fastapi", "torch", "huggingface_hub"} <= pins and "numpy" not in pins


def test_installer_never_upgrades_what_the_webui_uses_unless_asked(monkeypatch, capsys):
    installer = load(ROOT / "install.py", "wan_install2")
    calls = []
    launch = types.SimpleNamespace(run_pip=lambda command, desc: calls.append(command))
    _fake_versions(monkeypatch, {"transformers": "4.30.2", "torch": None})  # A1111's pin
    monkeypatch.delenv("WAN_VIDEO_UPGRADE", raising=False)
    assert installer.install_missing(launch) == [] and calls == []
    printed = capsys.readouterr().out
    assert "transformers 4.30.2 is older than Wan Video needs (transformers>=4.45)" in printed
    assert "WAN_VIDEO_UPGRADE=1" in printed
    monkeypatch.setenv("WAN_VIDEO_UPGRADE", "1")
    assert installer.install_missing(launch) == ["transformers>=4.45,<5"]  # 5 needs huggingface_hub 1.x


def test_installer_never_touches_the_hosts_packages():
    installer = load(ROOT / "install.py", "wan_install3")
    from wan.requirements import Requirement

    wanted = [Requirement(name, "99", "1.0") for name in ("torch", "gradio", "fastapi", "pydantic")]
    install, left = installer.plan_installs(wanted, allow_upgrade=True)
    assert install == [] and len(left) == 4


def test_the_tab_explains_when_generation_cannot_run(monkeypatch):
    from wan.requirements import generation_problem

    assert generation_problem() is None
    _fake_versions(monkeypatch, {"diffusers": None})
    problem = generation_problem()
    assert "diffusers missing (needs >= 0.35)" in problem and 'pip install "diffusers>=0.35"' in problem


class FakeOptions:
    """modules.shared.opts: options registered with add_option, values in .data."""

    def __init__(self):
        self.data = {}
        self.infos = {}

    def add_option(self, key, info):
        self.infos[key] = info
        self.data.setdefault(key, info.default)


class FakeState:
    """modules.shared.state, with the fields the WebUI's progress bar reads."""

    def __init__(self):
        self.events = []
        self.interrupted = False
        self.skipped = False

    def begin(self, job=""):
        self.events.append(("begin", job))

    def end(self):
        self.events.append(("end",))


class FakeWebUI:
    """Stand-ins for the WebUI modules the extension touches, with the callback contract of
    modules.script_callbacks (registration functions that store the callbacks)."""

    def __init__(self, monkeypatch, tmp_path, *, api_auth=None, forge=False, disable_api=False):
        self.callbacks = {"app_started": [], "script_unloaded": [], "ui_tabs": [], "ui_settings": []}
        modules = types.ModuleType("modules")
        scripts = types.ModuleType("modules.scripts")
        scripts.basedir = lambda: str(ROOT)
        callbacks = types.ModuleType("modules.script_callbacks")
        callbacks.on_app_started = self.callbacks["app_started"].append
        callbacks.on_script_unloaded = self.callbacks["script_unloaded"].append
        callbacks.on_ui_tabs = self.callbacks["ui_tabs"].append
        callbacks.on_ui_settings = self.callbacks["ui_settings"].append
        shared = types.ModuleType("modules.shared")
        shared.cmd_opts = argparse.Namespace(
            api_auth=api_auth,
            wan_output_dir=str(tmp_path),
            wan_models_dir=None,
            wan_allow_download=False,
            wan_disable_api=disable_api,
        )
        shared.opts = FakeOptions()
        shared.OptionInfo = lambda default, label, component=None, component_args=None, section=None: (
            types.SimpleNamespace(
                default=default,
                label=label,
                component=component,
                component_args=component_args,
                section=section,
            )
        )
        shared.state = FakeState()
        self.shared = shared
        call_queue = types.ModuleType("modules.call_queue")
        call_queue.queue_lock = threading.Lock()
        self.queue_lock = call_queue.queue_lock
        for name, module in {
            "modules": modules,
            "modules.scripts": scripts,
            "modules.script_callbacks": callbacks,
            "modules.shared": shared,
            "modules.call_queue": call_queue,
        }.items():
            monkeypatch.setitem(sys.modules, name, module)
        modules.scripts, modules.script_callbacks, modules.shared, modules.call_queue = (
            scripts,
            callbacks,
            shared,
            call_queue,
        )
        if forge:
            self.main_thread_calls = []
            forge_package = types.ModuleType("modules_forge")
            main_thread = types.ModuleType("modules_forge.main_thread")

            def run_and_wait_result(func, *args, **kwargs):  # like Forge: runs elsewhere, swallows errors
                self.main_thread_calls.append(func)
                box = {}
                worker = threading.Thread(target=lambda: box.update(result=func(*args, **kwargs)))
                worker.start()
                worker.join()
                return box.get("result")

            main_thread.run_and_wait_result = run_and_wait_result
            forge_package.main_thread = main_thread
            monkeypatch.setitem(sys.modules, "modules_forge", forge_package)
            monkeypatch.setitem(sys.modules, "modules_forge.main_thread", main_thread)
        monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p).resolve() != ROOT.resolve()])

    def load_script(self):
        return load(ROOT / "scripts" / "wan_video.py", "wan_video_script")


def test_script_makes_the_library_importable(monkeypatch, tmp_path):
    script = FakeWebUI(monkeypatch, tmp_path).load_script()
    assert script.EXTENSION_DIR == ROOT and script.LIBRARY_ERROR is None
    assert str(ROOT) in sys.path


def _routes(app):
    return set(app.openapi()["paths"])


def test_routes_are_mounted_on_every_app_and_the_worker_stops_on_unload(monkeypatch, tmp_path):
    fastapi = pytest.importorskip("fastapi")
    from wan.service import webui

    host = FakeWebUI(monkeypatch, tmp_path)
    host.load_script()
    (started,), (unloaded,) = host.callbacks["app_started"], host.callbacks["script_unloaded"]
    try:
        first, second = fastapi.FastAPI(), fastapi.FastAPI()
        started(None, first)
        started(None, second)  # "Reload UI": a new app, the same service
        assert "/wan/v1/jobs" in _routes(first) and "/wan/v1/jobs" in _routes(second)
        service = webui.service()
        assert service.worker.gpu_lock is host.queue_lock  # Wan jobs and txt2img take turns
        assert service.worker.alive
        assert service.store.folder == tmp_path / "jobs"
    finally:
        unloaded()
    assert not service.worker.alive and webui._service is None


def test_routes_honour_the_webuis_api_auth(monkeypatch, tmp_path):
    fastapi = pytest.importorskip("fastapi")
    from api_server import ServerThread, request

    host = FakeWebUI(monkeypatch, tmp_path, api_auth="alice:secret")
    host.load_script()
    app = fastapi.FastAPI()
    host.callbacks["app_started"][0](None, app)
    try:
        with ServerThread(app) as server:
            assert request(f"{server.url}/wan/v1/version").status == 401
            assert request(f"{server.url}/wan/v1/version", auth=("alice", "secret")).status == 200
    finally:
        host.callbacks["script_unloaded"][0]()


def test_on_forge_jobs_run_on_the_main_thread_and_errors_come_back(monkeypatch, tmp_path):
    from wan.service import webui

    host = FakeWebUI(monkeypatch, tmp_path, forge=True)
    runner = webui.host_runner()
    assert runner(lambda: 42) == 42 and len(host.main_thread_calls) == 1

    def broken():
        raise ValueError("bad job")

    with pytest.raises(ValueError, match="bad job"):
        runner(broken)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_is_valid():
    for path in (ROOT / "javascript").glob("*.js"):
        subprocess.run(["node", "--check", str(path)], check=True)


def test_settings_section_and_tab_are_registered(monkeypatch, tmp_path):
    pytest.importorskip("gradio")
    from wan.service import webui

    host = FakeWebUI(monkeypatch, tmp_path)
    host.load_script()
    host.callbacks["ui_settings"][0]()
    assert set(host.shared.opts.infos) == set(webui.OPTIONS)
    assert {info.section for info in host.shared.opts.infos.values()} == {("wan_video", "Wan Video")}
    model_option = host.shared.opts.infos["wan_default_model"]
    assert "vace-1.3b" in model_option.component_args["choices"] and model_option.component is not None
    # the WebUI hands component_args to Dropdown.update(), which takes no allow_custom_value in 3.41
    assert {key for info in host.shared.opts.infos.values() for key in (info.component_args or {})} == {
        "choices"
    }
    host.shared.opts.data["wan_default_model"] = "t2v-1.3b"
    try:
        ((blocks, title, elem_id),) = host.callbacks["ui_tabs"][0]()
        assert (title, elem_id) == ("Wan Video", "wan_video")
        model = next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == "wan_model")
        assert model.value == "t2v-1.3b"  # the WebUI's default model setting
    finally:
        host.callbacks["script_unloaded"][0]()


def test_a_wan_job_shows_in_the_webuis_progress_and_obeys_interrupt(monkeypatch, tmp_path):
    from wan.render.events import ProgressEvent
    from wan.service import webui

    host = FakeWebUI(monkeypatch, tmp_path)
    state = host.shared.state

    def generate(job, control, report):
        report(ProgressEvent("step", clip=1, clips=3, step=4, steps=30))
        assert (state.job_no, state.job_count, state.sampling_step, state.sampling_steps) == (1, 3, 4, 30)
        state.interrupted = True  # the WebUI's Interrupt button
        report(ProgressEvent("step", clip=1, clips=3, step=5, steps=30))
        control.checkpoint()
        return {}

    monkeypatch.setattr(webui, "_service", None)
    service = webui.service()
    service.worker.generate = generate
    try:
        _, (job_id,) = service.submit({"max_frames": 17})
        deadline = time.time() + 10
        while service.get(job_id).state in ("queued", "running") and time.time() < deadline:
            time.sleep(0.05)
        assert service.get(job_id).state == "cancelled"
        assert state.events[0][0] == "begin" and state.events[-1] == ("end",)
    finally:
        webui.shutdown()
