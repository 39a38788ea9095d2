"""What the WebUI's own process needs for the tab and the API: numpy (every host has it) and
numexpr (schedule expressions), which the hosts do not all have. The host's environment is not
touched: numexpr is installed into `<runtime>/front` with `pip install --target`, and the
extension's entry script appends that folder to the WebUI process's path. Standard library only.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

from .pins import RUNTIME_PINS

FRONT_FOLDER = "front"


def front_folder(runtime_root: Path) -> Path:
    """Where the packages the WebUI process borrows from the extension live."""
    return runtime_root / FRONT_FOLDER


def front_missing() -> list[str]:
    """The packages the WebUI process needs and cannot import (numpy, numexpr)."""
    return [name for name in ("numpy", "numexpr") if importlib.util.find_spec(name) is None]


def use_front_packages(runtime_root: Path) -> None:
    """Make the extension's own numexpr importable here, after everything the host has, and
    import it now: the WebUI imports extension scripts with a sys.path of its own and puts the
    old one back afterwards, so the folder would be gone by the time a schedule is evaluated
    (a module once imported stays in sys.modules)."""
    folder = front_folder(runtime_root)
    if folder.is_dir() and str(folder) not in sys.path:
        sys.path.append(str(folder))
    if importlib.util.find_spec("numexpr") is not None:
        importlib.import_module("numexpr")


def install_front_packages(runtime_root: Path, say=print) -> bool:  # type: ignore[no-untyped-def]
    """Install numexpr into the front folder when this interpreter lacks it; True when the WebUI
    process has what it needs afterwards. Nothing is installed into the host's environment."""
    use_front_packages(runtime_root)
    missing = front_missing()
    if not missing:
        return True
    if "numpy" in missing:
        say("Wan Video: the WebUI's Python has no numpy; the tab needs it (it comes with every WebUI)")
        return False
    folder = front_folder(runtime_root)
    say(f"Wan Video: installing numexpr for the tab into {folder} (not into the WebUI's packages)")
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        "--upgrade",
        "--target",
        str(folder),
        f"numexpr=={RUNTIME_PINS['numexpr']}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        say(f"Wan Video: numexpr could not be installed: {tail}")
        return False
    importlib.invalidate_caches()
    return not front_missing()
