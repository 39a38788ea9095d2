"""The WebUI entry files against the WebUI's contracts, with stand-ins for its modules."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
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


def test_script_makes_the_library_importable(monkeypatch, tmp_path):
    fake_modules = types.ModuleType("modules")
    fake_scripts = types.ModuleType("modules.scripts")
    fake_scripts.basedir = lambda: str(ROOT)
    fake_modules.scripts = fake_scripts
    monkeypatch.setitem(sys.modules, "modules", fake_modules)
    monkeypatch.setitem(sys.modules, "modules.scripts", fake_scripts)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p).resolve() != ROOT.resolve()])
    script = load(ROOT / "scripts" / "wan_video.py", "wan_video_script")
    assert script.EXTENSION_DIR == ROOT and script.LIBRARY_ERROR is None
    assert str(ROOT) in sys.path


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_is_valid():
    for path in (ROOT / "javascript").glob("*.js"):
        subprocess.run(["node", "--check", str(path)], check=True)
