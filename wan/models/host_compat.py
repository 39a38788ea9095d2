"""Living beside the WebUI's own packages: diffusers must import cleanly whatever the host pins.

A1111 1.10 pins kornia 0.6.7. diffusers (0.35 and later) imports kornia's
`build_laplacian_pyramid` for one guider as soon as kornia is installed, and touches that module
whenever a pipeline is loaded or saved, so with the old kornia every Wan pipeline fails to load.
Wan does not use that guider: when the installed kornia lacks the function, diffusers is told
that kornia is absent.
"""

from __future__ import annotations

import importlib.util
from functools import cache


def _kornia_is_usable() -> bool:
    try:
        from kornia.geometry.transform import build_laplacian_pyramid  # noqa: F401
    except Exception:  # too old, or broken against this torch: diffusers must not rely on it
        return False
    return True


@cache
def prepare_diffusers() -> None:
    """Make `import diffusers` and pipeline loading safe next to the host's packages (once)."""
    if importlib.util.find_spec("kornia") is None or _kornia_is_usable():
        return
    from diffusers.utils import import_utils

    import_utils._kornia_available = False
