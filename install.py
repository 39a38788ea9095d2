"""WebUI installer for the Wan Video extension (run by the WebUI while it prepares its environment).

Installs only what is missing or too old (see wan/requirements.py for the rules). It never
installs, upgrades or downgrades the host's own torch, gradio, fastapi or pydantic; packages the
WebUI also uses (transformers, accelerate) are installed when missing but upgraded only when
WAN_VIDEO_UPGRADE=1 is set (transformers then stays below 5), and otherwise the reason and the
command are printed, so the WebUI keeps working and the tab explains why generation is
unavailable. Every pip call holds the host's server and model-loading packages at their
installed versions (a constraints file), so pip picks versions of ours that fit around them.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# the extension folder is importable now (above)
from wan.requirements import (
    HOLD_AT_INSTALLED,
    HOST_OWNED,
    SHARED_WITH_HOST,
    TRANSFORMERS_IN_HOST,
    UPGRADE_VARIABLE,
    Requirement,
    installed_version,
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
        elif requirement.name == "transformers":
            install.append(TRANSFORMERS_IN_HOST)
        else:
            install.append(requirement.spec)
    return install, left


def hold_constraints(install: list[str]) -> list[str]:
    """`name==version` for every installed package that must not move (none being installed)."""
    installing = {spec.split(">")[0].split("=")[0].split("<")[0].strip().lower() for spec in install}
    held = []
    for name in sorted(HOLD_AT_INSTALLED - installing):
        version = installed_version(name)
        if version is not None:
            held.append(f"{name}=={version}")
    return held


def install_missing(launch) -> list[str]:
    """Install what is missing through the WebUI's own pip runner; returns what was asked for."""
    install, left = plan_installs(unsatisfied(), allow_upgrade=os.environ.get(UPGRADE_VARIABLE) == "1")
    for line in left:
        print(f"Wan Video: {line}")
    if not install:
        return install
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="wan-video-hold-", delete=False) as handle:
        handle.write("\n".join(hold_constraints(install)) + "\n")
    try:
        for spec in install:
            launch.run_pip(f'install "{spec}" -c "{handle.name}"', f"{spec} for Wan Video")
    finally:
        os.unlink(handle.name)
    return install


if __name__ == "__main__":
    import launch

    install_missing(launch)
