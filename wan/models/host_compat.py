"""Living beside the WebUI's own packages: diffusers must import cleanly whatever the host pins.

A1111 1.10 pins kornia 0.6.7. diffusers (0.35 and later) imports kornia's
`build_laplacian_pyramid` for one guider as soon as kornia is installed, and touches that module
whenever a pipeline is loaded or saved, so with the old kornia every Wan pipeline fails to load.
Wan does not use that guider: when the installed kornia lacks the function, diffusers is told
that kornia is absent.

Packages older than the measured floors (wan.runtime.pins.PACKAGE_FLOORS) fail deep inside
diffusers (an old peft breaks every pipeline, not only LoRAs): they are named first, in one line.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from functools import cache

from ..errors import WanError
from ..runtime.pins import PACKAGE_FLOORS, version_tuple

# the packages whose age shows up as an obscure ImportError or AttributeError when a pipeline loads
CHECKED_AT_LOAD = ("torch", "diffusers", "transformers", "accelerate", "huggingface_hub", "peft")


class PackageTooOldError(WanError):
    """An installed package is older than the oldest version generation works with."""


def too_old_packages(names: tuple[str, ...] = CHECKED_AT_LOAD) -> list[str]:
    """'name version (needs >= floor)' for each installed package of `names` below its floor."""
    found = []
    for name in names:
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a missing package is reported by the import that needs it
        if version_tuple(installed) < version_tuple(PACKAGE_FLOORS[name]):
            found.append(f"{name} {installed} (needs >= {PACKAGE_FLOORS[name]})")
    return found


def _kornia_is_usable() -> bool:
    try:
        from kornia.geometry.transform import build_laplacian_pyramid  # noqa: F401
    except Exception:  # too old, or broken against this torch: diffusers must not rely on it
        return False
    return True


@cache
def prepare_diffusers() -> None:
    """Make `import diffusers` and pipeline loading safe next to the host's packages (once)."""
    old = too_old_packages()
    if old:
        raise PackageTooOldError(
            f"generation needs newer packages: {', '.join(old)}; "
            f"upgrade them (pip install -U {' '.join(item.split()[0] for item in old)})"
        )
    if importlib.util.find_spec("kornia") is None or _kornia_is_usable():
        return
    from diffusers.utils import import_utils

    import_utils._kornia_available = False
