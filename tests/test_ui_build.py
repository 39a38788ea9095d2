"""The tab builds under each gradio the hosts use (tests/run.sh runs this file under gradio 3.41.2,
4.40 and the current release), without torch, with a tooltip on every setting."""

import subprocess
import sys
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from wan.config import WanConfig  # noqa: E402
from wan.service import JobService, WanAPI  # noqa: E402
from wan.ui.actions import FORM_KEYS  # noqa: E402

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from wan.ui import build_ui

    folder = tmp_path_factory.mktemp("ui")
    service = JobService(WanAPI(output_dir=folder), folder / "jobs", start=False)
    return build_ui(service)


def _settings_components(demo):
    by_id = {}
    for block in demo.blocks.values():
        elem_id = getattr(block, "elem_id", None) or ""
        if elem_id.startswith("wan_") and elem_id[4:] in FORM_KEYS:
            by_id[elem_id[4:]] = block
    return by_id


def test_every_setting_has_a_control_with_a_tooltip(demo):
    controls = _settings_components(demo)
    assert set(controls) == set(FORM_KEYS)
    missing = [key for key, block in controls.items() if not getattr(block, "info", None)]
    assert missing == []


def test_controls_start_at_the_defaults(demo):
    defaults = WanConfig().to_dict()
    controls = _settings_components(demo)
    for key in ("max_frames", "W", "H", "model", "memory_preset", "interpolation_method", "enhance_enabled"):
        value = controls[key].value
        assert value == defaults[key], (key, value, defaults[key])
    assert (defaults["model"], defaults["W"], defaults["H"]) == ("vace-1.3b", 832, 480)  # good on 12 GB


def test_building_imports_no_torch(tmp_path):
    code = (
        "import sys, gradio\n"
        "from wan.service import JobService, WanAPI\n"
        "from wan.ui import build_ui\n"
        f"api = WanAPI(output_dir={str(tmp_path)!r})\n"
        f"build_ui(JobService(api, {str(tmp_path / 'jobs')!r}, start=False))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'diffusers' not in sys.modules, 'diffusers was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_file_inputs_take_only_uploaded_files(demo):
    """A caller of the app's API can name any server path in a file value; under every gradio
    the tab's file inputs refuse it before gradio copies the file anywhere."""
    files = [
        block
        for block in demo.blocks.values()
        if getattr(block, "elem_id", None) in ("wan_settings_file", "wan_batch_files")
    ]
    assert len(files) == 2
    hostile = [
        {"name": "/etc/hostname", "data": None, "is_file": True},  # gradio 3.x
        {"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}},  # gradio 4 and later
    ]
    for component in files:
        for payload in hostile:
            with pytest.raises(gr.Error, match="not an uploaded file"):
                component.preprocess([payload] if component.elem_id == "wan_batch_files" else payload)


def test_the_i2v_model_list_offers_only_image_to_video_models(demo):
    from wan.catalog import MODELS

    (i2v,) = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "wan_i2v_model"]
    offered = [choice[0] if isinstance(choice, (list, tuple)) else choice for choice in i2v.choices]
    assert offered[0] == "" and {MODELS[m].kind for m in offered[1:]} == {"i2v"}


def test_controls_are_labelled_in_words_with_the_key_in_the_tooltip(demo):
    controls = _settings_components(demo)
    assert controls["max_frames"].label == "Max frames" and "[max_frames]" in controls["max_frames"].info
    assert controls["W"].label == "Width" and controls["seed_iter_N"].label == "Seed iteration every N clips"
