"""Shared test settings. `HYPOTHESIS_PROFILE=thorough bash tests/run.sh` runs far more examples."""

import os

import pytest
from hypothesis import settings

settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("thorough", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# No test may reach the network: the Hugging Face libraries stay offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Enhanced prompts are cached in a folder of the test run, never the user's."""
    monkeypatch.setenv("WAN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "wan-cache"))


@pytest.fixture(scope="session")
def tiny_qwen_models(tmp_path_factory):
    """A models folder holding the tiny random Qwen2 chat model (built once per session)."""
    from wan.prompts.tiny import ensure_tiny_qwen

    folder = tmp_path_factory.mktemp("qwen-models")
    ensure_tiny_qwen(folder / "tiny-qwen")
    return folder


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory):
    """A models folder the tiny Wan models are built into on first use, shared by the test files."""
    return tmp_path_factory.mktemp("tiny-wan-models")


def settings_errors(settings: dict) -> dict[str, str]:
    """The field errors of invalid settings, key -> message (fails when they are valid)."""
    from wan.config import SettingsError, config_from_dict

    with pytest.raises(SettingsError) as caught:
        config_from_dict(settings)
    return {e.key: e.message for e in caught.value.errors}


@pytest.fixture
def errors_of():
    """settings_errors, for the tests that check what is refused."""
    return settings_errors


def wait_until(condition, timeout: float, what: str):
    """Poll `condition` until it returns something true (returned); fail with `what` after
    `timeout` seconds."""
    import time

    deadline = time.time() + timeout
    while not (value := condition()):
        assert time.time() < deadline, what
        time.sleep(0.05)
    return value


def run_serve(*arguments: str, timeout: float = 120):
    """`python -m wan serve` with these arguments on a port it cannot bind (it must stop first)."""
    import subprocess
    import sys
    from pathlib import Path

    command = [sys.executable, "-m", "wan", "serve", "--port", "1", *arguments]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=Path(__file__).parent.parent, timeout=timeout
    )


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of two CPUs on loopback, for the tests of one file (Ray's own test setup)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()


def take_frames(video):
    """The output frames of the take that made `video` (takes/NNN/frames), as one array."""
    from pathlib import Path

    import numpy as np

    from wan.render.run_folder import read_png

    paths = sorted((Path(video).parent / "frames").glob("*.png"))
    assert paths, f"no frames beside {video}"
    return np.stack([read_png(path) for path in paths])


def serial_runs(api, settings, folder):
    """The jobs rendered one after the other in this process, on one CPU thread as each actor
    renders (Ray sets OMP_NUM_THREADS to an actor's CPUs): with more threads torch sums in
    another order, which moves a few pixels by a level or two."""
    import torch

    from wan.service.api import as_config

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [api.generate(as_config(s), run_dir=folder / f"serial-{n}") for n, s in enumerate(settings)]
    finally:
        torch.set_num_threads(threads)
