"""The WebUI entry files against the WebUI's contracts, with stand-ins for its modules."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import threading
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
    args = parser.parse_args(["--wan-models-dir", "/m", "--wan-output-dir", "/o"])
    assert (args.wan_models_dir, args.wan_output_dir) == ("/m", "/o")


def test_installer_installs_only_what_is_missing(monkeypatch):
    installer = load(ROOT / "install.py", "wan_install")
    calls = []
    launch = types.SimpleNamespace(run_pip=lambda command, desc: calls.append(command))
    assert installer.install_missing(launch) == [] and calls == []  # numpy and numexpr are here

    versions = {"numpy": "1.22.4", "numexpr": None}

    def fake_version(name):
        if versions[name] is None:
            raise installer.metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(installer.metadata, "version", fake_version)
    assert installer.install_missing(launch) == ["numpy>=1.23", "numexpr>=2.8.5"]
    assert calls == ['install "numpy>=1.23"', 'install "numexpr>=2.8.5"']


def test_installer_never_touches_the_hosts_packages():
    installer = load(ROOT / "install.py", "wan_install2")
    assert not installer.HOST_OWNED & set(installer.REQUIREMENTS)


class FakeWebUI:
    """Stand-ins for the WebUI modules the extension touches, with the callback contract of
    modules.script_callbacks (registration functions that store the callbacks)."""

    def __init__(self, monkeypatch, tmp_path, *, api_auth=None, forge=False):
        self.callbacks = {"app_started": [], "script_unloaded": []}
        modules = types.ModuleType("modules")
        scripts = types.ModuleType("modules.scripts")
        scripts.basedir = lambda: str(ROOT)
        callbacks = types.ModuleType("modules.script_callbacks")
        callbacks.on_app_started = self.callbacks["app_started"].append
        callbacks.on_script_unloaded = self.callbacks["script_unloaded"].append
        shared = types.ModuleType("modules.shared")
        shared.cmd_opts = argparse.Namespace(
            api_auth=api_auth, wan_output_dir=str(tmp_path), wan_models_dir=None
        )
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
