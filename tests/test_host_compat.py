"""diffusers next to an old kornia (A1111 pins 0.6.7, without build_laplacian_pyramid)."""

import sys
import types

import pytest

pytest.importorskip("diffusers")


@pytest.fixture
def prepare(monkeypatch):
    """prepare_diffusers run afresh with diffusers believing kornia is available."""
    from diffusers.utils import import_utils

    from wan.models import host_compat

    monkeypatch.setattr(import_utils, "_kornia_available", True)
    host_compat.prepare_diffusers.cache_clear()
    yield host_compat, import_utils
    host_compat.prepare_diffusers.cache_clear()


def test_an_old_kornia_is_hidden_from_diffusers(monkeypatch, prepare):
    host_compat, import_utils = prepare
    old = types.ModuleType("kornia")
    geometry = types.ModuleType("kornia.geometry")
    transform = types.ModuleType("kornia.geometry.transform")  # no build_laplacian_pyramid
    old.geometry, geometry.transform = geometry, transform
    for name, module in {
        "kornia": old,
        "kornia.geometry": geometry,
        "kornia.geometry.transform": transform,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(host_compat.importlib.util, "find_spec", lambda name: object())
    host_compat.prepare_diffusers()
    assert import_utils._kornia_available is False


def test_an_absent_kornia_is_left_alone(monkeypatch, prepare):
    host_compat, import_utils = prepare
    monkeypatch.setattr(host_compat.importlib.util, "find_spec", lambda name: None)
    host_compat.prepare_diffusers()
    assert import_utils._kornia_available is True


def test_the_installed_packages_meet_the_floors():
    from wan.models.host_compat import too_old_packages

    assert too_old_packages() == []


def test_an_old_peft_is_named_before_diffusers_fails_on_it(monkeypatch, prepare):
    """peft 0.17 imports what transformers 5 removed; diffusers imports peft for every pipeline."""
    host_compat, _ = prepare
    real_version = host_compat.importlib.metadata.version
    monkeypatch.setattr(
        host_compat.importlib.metadata,
        "version",
        lambda name: "0.17.1" if name == "peft" else real_version(name),
    )
    with pytest.raises(host_compat.PackageTooOldError, match=r"peft 0\.17\.1 \(needs >= 0\.18\.0\)"):
        host_compat.prepare_diffusers()


def test_the_models_extra_states_the_measured_floors():
    """pyproject.toml and wan.runtime.pins.PACKAGE_FLOORS say the same oldest versions."""
    import re
    from pathlib import Path

    import tomllib

    from wan.runtime.pins import PACKAGE_FLOORS

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    declared = {}
    for line in project["dependencies"] + project["optional-dependencies"]["models"]:
        name, floor = re.match(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", line).groups()
        declared[name] = floor
    assert declared == PACKAGE_FLOORS
