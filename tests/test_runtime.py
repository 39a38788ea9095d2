"""The extension's runtime environment without building one (tests/hosts/standin_check.py builds
a real one in CI): its paths on each platform, its states, and what a worker process gets."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from wan.locks import hold
from wan.runtime import RUNTIME_PINS, RuntimeEnv, venv_python
from wan.runtime.environment import EXTENSION_ROOT
from wan.runtime.front import front_missing, install_front_packages
from wan.runtime.pins import requirement_lines, version_tuple


def test_the_interpreter_of_a_venv_on_each_platform(tmp_path):
    assert venv_python(tmp_path, windows=True) == tmp_path / "Scripts" / "python.exe"
    assert venv_python(tmp_path, windows=False) == tmp_path / "bin" / "python"


def test_the_running_interpreter_is_a_runtime_that_needs_no_preparing():
    env = RuntimeEnv.current()
    assert not env.owned and env.python == Path(sys.executable) and env.status().ready


def _fake_python(env: RuntimeEnv) -> None:
    env.python.parent.mkdir(parents=True, exist_ok=True)
    env.python.write_text("")


def test_the_states_of_an_environment_of_our_own(tmp_path):
    env = RuntimeEnv(tmp_path / "runtime")
    assert env.status().state == "missing" and "has not been prepared" in env.status().message
    env.write_state("failed", reason="installing the packages failed (exit code 1): no space left")
    failed = env.status()
    assert failed.state == "failed" and "no space left" in failed.message
    env.write_state("ready", versions={"torch": "2.13.0"})
    assert env.status().state == "missing"  # ready on paper, but its interpreter is gone
    _fake_python(env)
    assert env.status().ready and env.status().to_dict()["versions"] == {"torch": "2.13.0"}
    data = json.loads(env.state_path.read_text())
    data["pins"] = {**RUNTIME_PINS, "diffusers": "0.1.0"}
    env.state_path.write_text(json.dumps(data))
    assert env.status().state == "outdated"  # made for another release: prepared again


def test_preparing_is_seen_through_the_lock_and_a_dead_preparation_is_failed(tmp_path):
    env = RuntimeEnv(tmp_path / "runtime")
    env.write_state("preparing")
    env.lock_path.touch()
    assert env.status().state == "failed"  # nobody holds the lock: the preparation stopped
    handle = hold(env.lock_path)
    try:
        assert env.preparing() and env.status().state == "preparing"
    finally:
        handle.close()


def test_a_worker_process_imports_the_extensions_code(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = RuntimeEnv(tmp_path / "runtime").worker_environment()
    assert env["PYTHONPATH"].split(os.pathsep) == [str(EXTENSION_ROOT), "/elsewhere"]
    assert env["PYTHONNOUSERSITE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    command = RuntimeEnv(tmp_path / "runtime").command("worker", "--id", "w")
    assert command[1:] == ["-m", "wan", "worker", "--id", "w"]


def test_the_pins_are_exact_versions():
    lines = requirement_lines("2.13.0")
    assert lines[0] == "torch==2.13.0" and all("==" in line for line in lines)
    assert version_tuple("2.13.0+cpu") == (2, 13, 0) and version_tuple("2.5") == (2, 5)


def test_the_tab_needs_nothing_installed_where_numexpr_is_there(tmp_path):
    assert front_missing() == []
    said = []
    assert install_front_packages(tmp_path, said.append) and said == []
    assert not (tmp_path / "front").exists()


@pytest.mark.parametrize("state", ["missing", "failed"])
def test_jobs_say_why_they_cannot_run(tmp_path, state):
    from wan.service import JobService, WanAPI
    from wan.service.workers import ProcessWorkers

    env = RuntimeEnv(tmp_path / "runtime")
    if state == "failed":
        env.write_state("failed", reason="installing the packages failed (exit code 1): disk full")
    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", runtime=env, start=False)
    try:
        assert isinstance(service.workers, ProcessWorkers)
        problem = service.problem()
        assert problem is not None and (
            "disk full" in problem if state == "failed" else "not been prepared" in problem
        )
        assert service.status()["runtime"]["state"] == state
    finally:
        service.close()
