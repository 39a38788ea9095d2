"""The extension's own Python environment, where its GPU workers run.

Inside a WebUI the host's packages are the host's (A1111 pins transformers 4.30, Forge imports
its own diffusers 0.31): none may move. So generation never runs in the host's environment; it
runs in a virtual environment the extension owns (`<extension>/runtime` by default, or
`--wan-runtime-dir`), which holds the versions the project is tested with (wan.runtime.pins).
It reuses the host's torch through a path file when that torch is new enough (no second CUDA
download), so its own packages come first and the host's fill in the rest.

Outside a WebUI (`python -m wan serve`, the CLI) the runtime is the interpreter running the
package, which has the `models` extra installed.

The environment's state is a JSON file in it (`wan-runtime.json`): preparing, ready or failed
(with the reason and the log), the pins it was made with and where its torch comes from. A
runtime made with other pins than this version's is outdated and is prepared again.
Standard library only: the WebUI's installer uses this with the host's Python.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .pins import RUNTIME_PINS

STATE_FILE = "wan-runtime.json"
LOG_FILE = "prepare.log"
LOCK_FILE = "prepare.lock"
# Where the extension's code is: workers import `wan` from here (PYTHONPATH), not from a copy.
EXTENSION_ROOT = Path(__file__).resolve().parents[2]


def venv_python(root: Path, *, windows: bool | None = None) -> Path:
    """The interpreter of a virtual environment: Scripts\\python.exe on Windows, bin/python elsewhere."""
    windows = sys.platform == "win32" if windows is None else windows
    return root / "Scripts" / "python.exe" if windows else root / "bin" / "python"


@dataclass(frozen=True)
class RuntimeStatus:
    """What the tab and the API say about the runtime."""

    state: str  # ready, preparing, failed, outdated, missing
    message: str
    log: str = ""
    details: dict[str, Any] | None = None

    @property
    def ready(self) -> bool:
        """Whether workers can start."""
        return self.state == "ready"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"state": self.state, "message": self.message, "log": self.log, **(self.details or {})}


class RuntimeEnv:
    """A runtime environment folder (see the module doc); `current()` is this interpreter."""

    def __init__(self, root: str | Path | None, *, python: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else None
        self._python = Path(python) if python is not None else None

    @classmethod
    def current(cls) -> RuntimeEnv:
        """The interpreter running this code, as the runtime (standalone use)."""
        return cls(None, python=sys.executable)

    @property
    def owned(self) -> bool:
        """Whether this is an environment the extension made (not the running interpreter)."""
        return self.root is not None

    @property
    def python(self) -> Path:
        """The runtime's interpreter."""
        if self._python is not None:
            return self._python
        assert self.root is not None
        return venv_python(self.root)

    @property
    def state_path(self) -> Path:
        """The state file."""
        assert self.root is not None
        return self.root / STATE_FILE

    @property
    def log_path(self) -> Path:
        """The preparation log."""
        assert self.root is not None
        return self.root / LOG_FILE

    @property
    def lock_path(self) -> Path:
        """Held while the runtime is being prepared."""
        assert self.root is not None
        return self.root / LOCK_FILE

    def worker_environment(self) -> dict[str, str]:
        """Environment variables of a process of this runtime: the extension's code importable,
        output unbuffered, and no user site-packages leaking in."""
        env = dict(os.environ)
        paths = [str(EXTENSION_ROOT), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONNOUSERSITE"] = "1"
        return env

    def command(self, *arguments: str) -> list[str]:
        """`python -m wan ARGUMENTS` with the runtime's interpreter."""
        return [str(self.python), "-m", "wan", *arguments]

    # -- state ---------------------------------------------------------------------------------------
    def read_state(self) -> dict[str, Any]:
        """The state file's contents ({} when there is none or it cannot be read)."""
        if self.root is None:
            return {}
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_state(self, state: str, **values: Any) -> None:
        """Record the runtime's state (atomically)."""
        assert self.root is not None
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"state": state, "updated": time.time(), "pins": RUNTIME_PINS, **values}
        temporary = self.state_path.with_name(STATE_FILE + ".tmp")
        temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.state_path)

    def status(self) -> RuntimeStatus:
        """ready, preparing, failed (why), outdated or missing, in words for the user."""
        if not self.owned:
            return RuntimeStatus("ready", f"workers run with {self.python}")
        data = self.read_state()
        log = str(self.log_path) if self.log_path.is_file() else ""
        state = data.get("state")
        if state is None:
            return RuntimeStatus(
                "missing", f"the runtime environment at {self.root} has not been prepared", log
            )
        if state == "preparing":
            if self.preparing():
                return RuntimeStatus(
                    "preparing", f"the runtime environment at {self.root} is being prepared", log
                )
            return RuntimeStatus("failed", "the preparation of the runtime stopped before it finished", log)
        if state == "failed":
            return RuntimeStatus(
                "failed", data.get("reason") or "the runtime could not be prepared", log, data
            )
        if data.get("pins") != RUNTIME_PINS:
            return RuntimeStatus(
                "outdated", "the runtime holds other versions than this release needs", log, data
            )
        if not self.python.is_file():
            return RuntimeStatus("missing", f"{self.python} is missing; prepare the runtime again", log)
        return RuntimeStatus("ready", f"runtime ready at {self.root}", log, data)

    def preparing(self) -> bool:
        """Whether a process is preparing the runtime right now (it holds the lock)."""
        from ..locks import hold

        if self.root is None or not self.lock_path.exists():
            return False
        handle = hold(self.lock_path)
        if handle is None:
            return True
        handle.close()
        return False
