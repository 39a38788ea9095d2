"""What the extension needs from its Python environment, and what is missing. Standard library
only: the WebUI's installer (install.py) imports it before anything else is installed.

Three kinds of package:
- core (numpy, numexpr): planning; installed when missing or too old;
- models (diffusers, transformers, accelerate, ...): generation; installed when missing or too
  old, except the ones the WebUI itself uses (`SHARED_WITH_HOST`): those are installed when
  missing but never upgraded behind the host's back, because A1111 pins transformers 4.30.2 for
  its own models. When one is too old, the installer says so and how to upgrade
  (WAN_VIDEO_UPGRADE=1, or pip), and the tab says generation is unavailable until then;
- host-owned (torch, gradio, fastapi, pydantic): never installed, upgraded or downgraded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata

CORE = {"numpy": "1.23", "numexpr": "2.8.5"}
MODELS = {
    "diffusers": "0.35",
    "transformers": "4.45",
    "accelerate": "0.30",
    "imageio-ffmpeg": "0.5",
    "ftfy": "6",
}
# OpenCV comes under several distribution names; any one of them provides cv2.
OPENCV = (
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python",
    "opencv-contrib-python-headless",
)
OPENCV_MINIMUM = "4.8"
HOST_OWNED = frozenset({"torch", "gradio", "fastapi", "pydantic"})
SHARED_WITH_HOST = frozenset({"transformers", "accelerate"})
# Kept at their installed versions while installing (pip -c): the host's own packages and the ones
# its server and model loading depend on. Without this, installing diffusers next to A1111 moves
# huggingface_hub past what transformers 4.30 accepts, and anyio / h11 past what its httpcore
# accepts, and a newer transformers pulls pydantic 2 into a pydantic 1 WebUI.
HOLD_AT_INSTALLED = HOST_OWNED | {
    "setuptools",
    "starlette",
    "uvicorn",
    "anyio",
    "h11",
    "httpcore",
    "httpx",
    "huggingface_hub",
    "safetensors",
    "tokenizers",
    "numpy",
}
# transformers 5 needs huggingface_hub 1.x, which the hosts' other packages do not accept
TRANSFORMERS_IN_HOST = "transformers>=4.45,<5"
UPGRADE_VARIABLE = "WAN_VIDEO_UPGRADE"


def version_tuple(version: str) -> tuple[int, ...]:
    """(major, minor, patch) of a version string, ignoring local and pre-release parts."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Requirement:
    """One package the extension wants, and what is installed."""

    name: str
    minimum: str
    installed: str | None

    @property
    def satisfied(self) -> bool:
        """Installed and new enough."""
        return self.installed is not None and version_tuple(self.installed) >= version_tuple(self.minimum)

    @property
    def spec(self) -> str:
        """The pip requirement string."""
        return f"{self.name}>={self.minimum}"


def requirements(groups: tuple[dict[str, str], ...] = (CORE, MODELS)) -> list[Requirement]:
    """Every requirement of the given groups with what is installed (OpenCV counted once)."""
    found = [
        Requirement(name, minimum, installed_version(name))
        for group in groups
        for name, minimum in group.items()
    ]
    if MODELS in groups:
        present = next((name for name in OPENCV if installed_version(name)), None)
        name = present or "opencv-python-headless"
        found.append(Requirement(name, OPENCV_MINIMUM, installed_version(name)))
    return found


def unsatisfied(groups: tuple[dict[str, str], ...] = (CORE, MODELS)) -> list[Requirement]:
    """The requirements that are missing or too old."""
    return [r for r in requirements(groups) if not r.satisfied]


def generation_problem() -> str | None:
    """Why generation cannot run in this environment (missing or old packages), or None."""
    missing = unsatisfied((MODELS,))
    if installed_version("torch") is None:
        return "Generation needs PyTorch, which the WebUI normally provides; it is not installed."
    if not missing:
        return None
    listed = ", ".join(f"{r.name} {r.installed or 'missing'} (needs >= {r.minimum})" for r in missing)
    command = "pip install " + " ".join(f'"{r.spec}"' for r in missing)
    return (
        f"Generation needs packages this environment lacks: {listed}. Restart the WebUI without "
        f"--skip-install (with {UPGRADE_VARIABLE}=1 to allow upgrading packages the WebUI also uses), "
        f"or run in the WebUI's environment: {command}"
    )
