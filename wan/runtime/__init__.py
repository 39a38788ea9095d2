"""The extension's own runtime environment for its GPU workers (see environment.py); standard
library only, so the WebUI's installer can use it with the host's Python."""

from .environment import RuntimeEnv, RuntimeStatus, venv_python
from .pins import RUNTIME_PINS, TORCH_FLOOR, requirement_lines
from .prepare import prepare_runtime, remove_runtime

__all__ = [
    "RUNTIME_PINS",
    "TORCH_FLOOR",
    "RuntimeEnv",
    "RuntimeStatus",
    "prepare_runtime",
    "remove_runtime",
    "requirement_lines",
    "venv_python",
]
