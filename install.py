"""WebUI installer for the Wan Video extension (run by the WebUI while it prepares its environment).

Installs only what is missing or too old (see wan/requirements.py for the rules). It never
installs, upgrades or downgrades the host's own torch, gradio, fastapi or pydantic; packages the
WebUI also uses (transformers, accelerate) are installed when missing but upgraded only when
WAN_VIDEO_UPGRADE=1 is set, and otherwise the reason and the command are printed, so the WebUI
keeps working and the tab explains why generation is unavailable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# the extension folder is importable now (above)
from wan.requirements import (
    HOST_OWNED,
    SHARED_WITH_HOST,
    UPGRADE_VARIABLE,
    Requirement,
    unsatisfied,
)


def plan_installs(wanted: list[Requirement], *, allow_upgrade: bool) -> tuple[list[str], list[str]]:
    """(pip requirement strings to install, explanations of what is left alone)."""
    install, left = [], []
    for requirement in wanted:
        if requirement.name.lower() in HOST_OWNED:
            left.append(f"{requirement.name} belongs to the WebUI; Wan Video does not change it")
        elif requirement.installed and requirement.name in SHARED_WITH_HOST and not allow_upgrade:
            left.append(
                f"{requirement.name} {requirement.installed} is older than Wan Video needs "
                f"({requirement.spec}); the WebUI uses it too, so it is not upgraded automatically. "
                f"Generation stays unavailable until it is: restart with {UPGRADE_VARIABLE}=1 set, or run "
                f"pip install '{requirement.spec}' in the WebUI's environment."
            )
        else:
            install.append(requirement.spec)
    return install, left


def install_missing(launch) -> list[str]:
    """Install what is missing through the WebUI's own pip runner; returns what was asked for."""
    install, left = plan_installs(unsatisfied(), allow_upgrade=os.environ.get(UPGRADE_VARIABLE) == "1")
    for line in left:
        print(f"Wan Video: {line}")
    for spec in install:
        launch.run_pip(f'install "{spec}"', f"{spec} for Wan Video")
    return install


if __name__ == "__main__":
    import launch

    install_missing(launch)
