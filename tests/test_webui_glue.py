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
    flags = [
        "--wan-models-dir",
        "/m",
        "--wan-output-dir",
        "/o",
        "--wan-disable-api",
        "--wan-runtime-dir",
        "/r",
    ]
    args = parser.parse_args([*flags, "--wan-chat-server", "http://a/v1", "--wan-chat-server", "http://b/v1"])
    assert (args.wan_models_dir, args.wan_output_dir, args.wan_runtime_dir) == ("/m", "/o", "/r")
    assert args.wan_disable_api and not args.wan_allow_download
    assert args.wan_chat_server == ["http://a/v1", "http://b/v1"]


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


def test_the_installer_finds_the_runtime_folder_the_way_the_webui_is_told(monkeypatch, tmp_path):
    installer = load(ROOT / "install.py", "wan_install")
    monkeypatch.delenv("WAN_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("COMMANDLINE_ARGS", raising=False)
    assert installer.runtime_dir() == ROOT / "runtime"
    monkeypatch.setenv("WAN_RUNTIME_DIR", str(tmp_path / "env"))
    assert installer.runtime_dir() == tmp_path / "env"
    monkeypatch.setenv("COMMANDLINE_ARGS", f'--api --wan-runtime-dir "{tmp_path / "flag"}" --listen')
    assert installer.runtime_dir() == tmp_path / "flag"


def test_the_installer_prepares_the_runtime_and_never_stops_the_webui(monkeypatch, tmp_path, capsys):
    from wan import runtime
    from wan.runtime import front

    installer = load(ROOT / "install.py", "wan_install2")
    monkeypatch.setenv("WAN_RUNTIME_DIR", str(tmp_path / "env"))
    monkeypatch.delenv("COMMANDLINE_ARGS", raising=False)
    prepared = []
    monkeypatch.setattr(runtime, "prepare_runtime", lambda env, say: prepared.append(env.root) or True)
    monkeypatch.setattr(front, "install_front_packages", lambda root, say: True)
    assert installer.prepare() and prepared == [tmp_path / "env"]
    assert "has not been prepared; preparing it" in capsys.readouterr().out

    def broken(env, say):
        raise OSError("disk full")

    monkeypatch.setattr(runtime, "prepare_runtime", broken)
    import runpy

    runpy.run_path(str(ROOT / "install.py"), run_name="__main__")  # prints; never raises
    assert "preparing the runtime failed: OSError: disk full" in capsys.readouterr().out


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

    def __init__(self, monkeypatch, tmp_path, *, api_auth=None, forge=False, disable_api=False, **flags):
        self.callbacks = {
            "app_started": [],
            "script_unloaded": [],
            "ui_tabs": [],
            "ui_settings": [],
            "before_reload": [],
        }
        modules = types.ModuleType("modules")
        scripts = types.ModuleType("modules.scripts")
        scripts.basedir = lambda: str(ROOT)
        callbacks = types.ModuleType("modules.script_callbacks")
        callbacks.on_app_started = self.callbacks["app_started"].append
        callbacks.on_script_unloaded = self.callbacks["script_unloaded"].append
        callbacks.on_ui_tabs = self.callbacks["ui_tabs"].append
        callbacks.on_ui_settings = self.callbacks["ui_settings"].append
        callbacks.on_before_reload = self.callbacks["before_reload"].append
        shared = types.ModuleType("modules.shared")
        shared.cmd_opts = argparse.Namespace(
            **{
                "api_auth": api_auth,
                "gradio_auth": None,
                "gradio_auth_path": None,
                "listen": False,
                "server_name": None,
                "wan_output_dir": str(tmp_path),
                "wan_models_dir": None,
                "wan_runtime_dir": str(tmp_path / "runtime"),
                "wan_allow_download": False,
                "wan_chat_server": None,
                "wan_disable_api": disable_api,
            }
            | flags
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


def test_routes_are_mounted_on_every_app_and_reload_keeps_the_service(monkeypatch, tmp_path):
    fastapi = pytest.importorskip("fastapi")
    from wan.webui import extension

    host = FakeWebUI(monkeypatch, tmp_path)
    host.load_script()
    (started,), (unloaded,) = host.callbacks["app_started"], host.callbacks["script_unloaded"]
    (before_reload,) = host.callbacks["before_reload"]
    try:
        first, second = fastapi.FastAPI(), fastapi.FastAPI()
        started(None, first)
        service = extension.service()
        before_reload()  # "Reload UI": scripts unload, a new app starts, the service carries on
        unloaded()
        started(None, second)
        assert "/wan/v1/jobs" in _routes(first) and "/wan/v1/jobs" in _routes(second)
        assert extension.service() is service and service.dispatcher.alive
        assert service.dispatcher.gate.lock is host.queue_lock  # Wan jobs and txt2img take turns
        assert service.store.folder == tmp_path / "jobs"
        assert service.runtime.root == tmp_path / "runtime"
    finally:
        unloaded()  # the WebUI stops
    assert not service.dispatcher.alive and extension._service is None


def _serve_glue(monkeypatch, tmp_path, **flags):
    fastapi = pytest.importorskip("fastapi")
    from api_server import ServerThread

    host = FakeWebUI(monkeypatch, tmp_path, **flags)
    host.load_script()
    app = fastapi.FastAPI()
    host.callbacks["app_started"][0](None, app)
    return host, ServerThread(app)


def test_routes_honour_the_webuis_api_auth(monkeypatch, tmp_path):
    from api_server import request

    host, server = _serve_glue(monkeypatch, tmp_path, api_auth="alice:secret")
    try:
        with server:
            assert request(f"{server.url}/wan/v1/version").status == 401
            assert request(f"{server.url}/wan/v1/version", auth=("alice", "secret")).status == 200
    finally:
        host.callbacks["script_unloaded"][0]()


def test_without_api_auth_the_routes_ask_for_the_ui_password(monkeypatch, tmp_path):
    from api_server import request

    password_file = tmp_path / "users.txt"
    password_file.write_text("carol:pw3\n")
    host, server = _serve_glue(
        monkeypatch, tmp_path, gradio_auth="bob:pw2", gradio_auth_path=str(password_file), listen=True
    )
    try:
        with server:
            assert request(f"{server.url}/wan/v1/jobs").status == 401
            assert request(f"{server.url}/wan/v1/jobs", auth=("bob", "pw2")).status == 200
            assert request(f"{server.url}/wan/v1/jobs", auth=("carol", "pw3")).status == 200
    finally:
        host.callbacks["script_unloaded"][0]()


@pytest.mark.parametrize(
    "reachable",
    [{"listen": True}, {"server_name": "0.0.0.0"}, {"share": True}, {"ngrok": "a-token"}],
    ids=["listen", "server-name", "share", "ngrok"],
)
def test_an_open_webui_on_a_network_refuses_to_generate_and_says_why(monkeypatch, tmp_path, reachable):
    """A public tunnel (--share, --ngrok) reaches the API as --listen does. d1b0a49 refused
    nothing; the rule that came next looked at --listen and --server-name only."""
    from api_server import request

    host, server = _serve_glue(monkeypatch, tmp_path, **reachable)
    try:
        with server:
            url = f"{server.url}/wan/v1"
            assert request(f"{url}/plan", "POST", {"max_frames": 17}).status == 200
            for path, body in (("/jobs", {"max_frames": 17}), ("/enhance", {"prompts": ["a"]})):
                reply = request(url + path, "POST", body)
                assert reply.status == 403 and "--api-auth" in reply.json()["detail"]
    finally:
        host.callbacks["script_unloaded"][0]()


def test_on_forge_gpu_work_runs_on_the_main_thread_and_errors_come_back(monkeypatch, tmp_path):
    from wan.webui.host import on_main_thread

    host = FakeWebUI(monkeypatch, tmp_path, forge=True)
    outcome = {}

    def elsewhere():  # as the dispatcher's threads call it
        outcome["value"] = on_main_thread(lambda: 42)

        def broken():
            raise ValueError("bad job")

        try:
            on_main_thread(broken)
        except ValueError as exc:
            outcome["error"] = str(exc)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert outcome == {"value": 42, "error": "bad job"} and len(host.main_thread_calls) == 2
    assert on_main_thread(lambda: 7) == 7 and len(host.main_thread_calls) == 2  # Forge's own thread


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_is_valid():
    for path in (ROOT / "javascript").glob("*.js"):
        subprocess.run(["node", "--check", str(path)], check=True)


def test_settings_section_and_tab_are_registered(monkeypatch, tmp_path):
    pytest.importorskip("gradio")
    from wan.webui.options import OPTIONS

    host = FakeWebUI(monkeypatch, tmp_path)
    host.load_script()
    host.callbacks["ui_settings"][0]()
    assert set(host.shared.opts.infos) == set(OPTIONS)
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


class FakeModel:
    def __init__(self):
        self.where = "cuda"


def _fake_a1111_models(monkeypatch, model):
    sd_models = types.ModuleType("modules.sd_models")
    sd_models.model_data = types.SimpleNamespace(sd_model=model)
    sd_models.send_model_to_cpu = lambda m: setattr(m, "where", "cpu")
    sd_models.send_model_to_device = lambda m: setattr(m, "where", "cuda")
    devices = types.ModuleType("modules.devices")
    devices.torch_gc = lambda: None
    monkeypatch.setitem(sys.modules, "modules.sd_models", sd_models)
    monkeypatch.setitem(sys.modules, "modules.devices", devices)
    sys.modules["modules"].sd_models, sys.modules["modules"].devices = sd_models, devices


def _glue_service(tmp_path, generate):
    from wan.service import JobService, WanAPI
    from wan.webui.host import HostGate, host_lock, host_progress

    return JobService(
        WanAPI(output_dir=tmp_path),
        tmp_path / "jobs",
        generate=generate,
        gate=HostGate(host_lock()),
        observer=host_progress(),
    )


def _wait_settled(service, job_id):
    deadline = time.time() + 20
    while service.get(job_id).state in ("queued", "running", "paused") and time.time() < deadline:
        time.sleep(0.02)
    return service.get(job_id)


def test_a_job_holds_the_webuis_lock_with_its_model_out_of_the_gpu(monkeypatch, tmp_path):
    host = FakeWebUI(monkeypatch, tmp_path)
    model = FakeModel()
    _fake_a1111_models(monkeypatch, model)
    seen = {}

    def generate(job, control, report):
        seen["locked"] = host.queue_lock.locked()
        seen["model"] = model.where
        return {}

    service = _glue_service(tmp_path, generate)
    try:
        _, (job_id,) = service.submit({"max_frames": 17})
        assert _wait_settled(service, job_id).state == "succeeded"
        service.dispatcher.wait_idle(5)
        assert seen == {"locked": True, "model": "cpu"}
        assert model.where == "cuda" and not host.queue_lock.locked()  # given back afterwards
        host.shared.opts.data["wan_keep_host_model"] = True
        _, (job_id,) = service.submit({"max_frames": 17})
        assert _wait_settled(service, job_id).state == "succeeded"
        assert seen["model"] == "cuda"
    finally:
        service.close()


def test_a_wan_job_shows_in_the_webuis_progress_and_obeys_interrupt(monkeypatch, tmp_path):
    from wan.render.events import ProgressEvent

    host = FakeWebUI(monkeypatch, tmp_path)
    state = host.shared.state

    def generate(job, control, report):
        report(ProgressEvent("step", clip=1, clips=3, step=4, steps=30))
        deadline = time.time() + 10
        while (getattr(state, "job_no", None), getattr(state, "sampling_step", None)) != (1, 4):
            assert time.time() < deadline, "the WebUI's progress never showed the step"
            time.sleep(0.02)
        assert (state.job_no, state.job_count, state.sampling_step, state.sampling_steps) == (1, 3, 4, 30)
        state.interrupted = True  # the WebUI's Interrupt button
        while time.time() < deadline:
            control.checkpoint()
            time.sleep(0.02)
        return {}

    service = _glue_service(tmp_path, generate)
    try:
        _, (job_id,) = service.submit({"max_frames": 17})
        assert _wait_settled(service, job_id).state == "cancelled"
        service.dispatcher.wait_idle(5)
        assert state.events[0][0] == "begin" and state.events[-1] == ("end",)
    finally:
        service.close()


def test_numexpr_from_the_runtime_stays_imported_after_the_webui_restores_its_path(monkeypatch, tmp_path):
    from wan.runtime.front import use_front_packages

    monkeypatch.delitem(sys.modules, "numexpr")
    saved = list(sys.path)
    use_front_packages(tmp_path)  # as the entry script does while the WebUI imports it
    sys.path[:] = saved  # what the WebUI's load_scripts does afterwards
    assert "numexpr" in sys.modules
    from wan.schedules import evaluate_schedule

    assert list(evaluate_schedule("0:(2*t)", 3)) == [0.0, 2.0, 4.0]


def _observer(monkeypatch, tmp_path):
    from wan.webui import host

    FakeWebUI(monkeypatch, tmp_path)
    clock = [100.0]
    monkeypatch.setattr(host.time, "monotonic", lambda: clock[0])
    return host.host_progress(), clock


def test_the_webuis_interrupt_cancels_a_job_after_a_moment_without_a_reload(monkeypatch, tmp_path):
    observer, clock = _observer(monkeypatch, tmp_path)
    observer.started(types.SimpleNamespace(id="a" * 32))
    observer.state.interrupted = True
    assert not observer.interrupted()  # a reload's interrupt comes first and its notice later
    clock[0] += 2.5
    assert observer.interrupted()


def test_a_reload_ui_does_not_cancel_the_running_job_nor_blunt_the_next_interrupt(monkeypatch, tmp_path):
    observer, clock = _observer(monkeypatch, tmp_path)
    observer.started(types.SimpleNamespace(id="a" * 32))
    observer.state.interrupted = True  # request_restart() interrupts...
    assert not observer.interrupted()
    observer.reload_started()  # ...and on_before_reload follows
    clock[0] += 60
    assert not observer.interrupted()
    observer.finished()
    observer.reload_started()  # a reload with no job running
    observer.started(types.SimpleNamespace(id="b" * 32))
    observer.state.interrupted = True
    assert not observer.interrupted()
    clock[0] += 2.5
    assert observer.interrupted()  # the next job still obeys Interrupt


def test_the_webuis_progress_text_shows_no_file_paths(monkeypatch, tmp_path):
    observer, _clock = _observer(monkeypatch, tmp_path)
    job = types.SimpleNamespace(
        id="a" * 32,
        progress={"clip": 2, "clips": 4, "kind": "clip_done", "message": "/x/previews/clip_0002.png"},
    )
    observer.started(job)
    observer.progress(job)
    assert observer.state.textinfo == "Wan Video: clip 3/4"
    observer.finished()
    assert observer.state.textinfo is None
