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
