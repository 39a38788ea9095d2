"""WebUI installer for the Wan Video extension (run by the WebUI while it prepares its environment).

Installs only the packages that are missing or too old. It never installs, upgrades or
downgrades the host's own torch, gradio, fastapi or pydantic: the WebUI pins those.
"""

from __future__ import annotations

import re
from importlib import metadata

# distribution name -> minimum version; everything the library needs beyond the WebUI itself
REQUIREMENTS = {"numpy": "1.23", "numexpr": "2.8.5"}
HOST_OWNED = frozenset({"torch", "gradio", "fastapi", "pydantic"})


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def missing_requirements() -> list[str]:
    """pip requirement strings for the packages that are absent or older than needed."""
    wanted = []
    for name, minimum in REQUIREMENTS.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None or _version_tuple(installed) < _version_tuple(minimum):
            wanted.append(f"{name}>={minimum}")
    return wanted


def install_missing(launch) -> list[str]:
    """Install what is missing through the WebUI's own pip runner; returns what was asked for."""
    wanted = missing_requirements()
    for requirement in wanted:
        if re.split(r"[<>=!~ ]", requirement, maxsplit=1)[0].lower() in HOST_OWNED:
            raise RuntimeError(f"refusing to change the WebUI's own package: {requirement}")
        launch.run_pip(f'install "{requirement}"', f"{requirement} for Wan Video")
    return wanted


if __name__ == "__main__":
    import launch

    install_missing(launch)
