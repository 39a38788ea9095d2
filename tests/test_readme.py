"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_python_examples_run(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert '"clips"' in capsys.readouterr().out


@pytest.mark.parametrize(
    "path", ["examples/deforum_settings.txt", "examples/install_check.json", "tests/run.sh", ".ci/run"]
)
def test_files_the_readme_names_exist(path):
    assert path in README
    assert (ROOT / path).is_file()
