"""A new setting is declared in one place, its group's module, and every front end has it: the
CLI's settings list, validation (with its field name), the REST schema and the tab's form. The
test adds one to a copy of the package, as a developer would, and asks each front end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
NEW_SETTING = """
    watermark: str = setting(
        "", Text(200), "Text burnt into the corner of every frame", label="Watermark"
    )
"""
CHECKS = """
import json
from wan.config import SettingsError, config_from_dict
from wan.service.schema import settings_schema
from wan.ui.actions import FORM_KEYS
from wan.ui.layout import tabs

found = {}
try:
    config_from_dict({"output_watermark": 7})
except SettingsError as exc:
    found["error"] = [e.key for e in exc.errors]
found["value"] = config_from_dict({"output_watermark": "(c) me"})[0].output.watermark
found["schema"] = settings_schema()["properties"]["output_watermark"]["title"]
found["form"] = "output_watermark" in FORM_KEYS
found["section"] = [s.title for sections in tabs().values() for s in sections if "output_watermark" in s.keys]
print(json.dumps(found))
"""


def test_a_setting_added_to_its_group_shows_up_everywhere(tmp_path):
    copy = tmp_path / "wan"
    shutil.copytree(ROOT / "wan", copy, ignore=shutil.ignore_patterns("__pycache__"))
    output = copy / "config" / "output.py"
    source = output.read_text(encoding="utf-8")
    anchor = "    save_frames: bool = setting("
    assert anchor in source
    source = source.replace(anchor, NEW_SETTING.lstrip("\n") + anchor)
    source = source.replace(
        "from .fields import Flag, Integer, setting", "from .fields import Flag, Integer, Text, setting"
    )
    output.write_text(source, encoding="utf-8")  # the one file a developer touches
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    listing = subprocess.run(
        [sys.executable, "-m", "wan", "settings", "--list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert listing.returncode == 0, listing.stderr
    assert 'output_watermark  (default "")' in listing.stdout
    assert "Watermark: Text burnt into the corner of every frame" in listing.stdout

    checks = subprocess.run(
        [sys.executable, "-c", CHECKS], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert checks.returncode == 0, checks.stderr
    found = json.loads(checks.stdout)
    assert found == {
        "error": ["output_watermark"],
        "value": "(c) me",
        "schema": "Watermark",
        "form": True,
        "section": ["Output"],
    }
