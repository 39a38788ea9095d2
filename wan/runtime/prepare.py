"""Preparing the runtime environment: one line of progress per step, everything in a log, the
host's environment never touched.

1. the environment: `python -m venv` with the host's Python (pip comes from Python's own bundled
   wheel, no download);
2. torch: the host's when it is new enough (a path file in the runtime makes the host's
   site-packages visible after the runtime's own), else a torch of the runtime's own, after
   saying how much it downloads;
3. the pinned packages, installed into the runtime by the runtime's pip; torch is held at the
   version chosen in step 2, so pip never replaces it (a host package of another version is
   shadowed in the runtime, never uninstalled: pip leaves packages outside its environment);
4. a check: the runtime's Python imports torch, diffusers, transformers, OpenCV and the
   extension, and says which versions it got.

Standard library only (the WebUI's installer runs this with the host's Python).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from ..locks import hold
from .environment import EXTENSION_ROOT, RuntimeEnv
from .pins import (
    TORCH_DOWNLOAD_GB,
    TORCH_FLOOR,
    TORCH_FOR_RUNTIME,
    TORCH_INDEX_URL,
    WITHOUT_DEPENDENCIES,
    requirement_lines,
    version_tuple,
)

HOST_PATH_FILE = "wan-host-packages.pth"
# makes the extension's code importable by the runtime's Python wherever it runs
EXTENSION_PATH_FILE = "wan-extension.pth"
STEPS = 4
CHECK = (
    "import json, sys, importlib.metadata as m; import torch, diffusers, transformers, cv2, wan; "
    "print(json.dumps({'python': sys.version.split()[0], 'torch': torch.__version__, "
    "'diffusers': diffusers.__version__, 'transformers': transformers.__version__, "
    "'cuda': torch.cuda.is_available()}))"
)


class PrepareError(Exception):
    """A step that failed; the message says which and why (the log has the details)."""


def host_torch_version() -> str | None:
    """The torch installed where this runs (the host), or None."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def host_site_packages() -> list[str]:
    """The site-packages folders of this interpreter (the host's), for the runtime's path file."""
    import sysconfig

    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


class _Preparation:
    def __init__(self, env: RuntimeEnv, host_python: str, say: Callable[[str], None]) -> None:
        self.env = env
        self.host_python = host_python
        self.say = say
        self.log = env.log_path.open("a", encoding="utf-8")

    def step(self, number: int, text: str) -> None:
        line = f"Wan Video runtime [{number}/{STEPS}] {text}"
        self.say(line)
        self.log.write(f"\n== {time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
        self.log.flush()

    def run(self, command: Sequence[str], what: str, *, timeout: float = 3600) -> str:
        """Run a command with its output in the log; PrepareError naming `what` if it fails."""
        self.log.write("$ " + " ".join(command) + "\n")
        self.log.flush()
        try:
            done = subprocess.run(
                list(command),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
                env=self.env.worker_environment(),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PrepareError(f"{what} failed: {exc}") from None
        self.log.write(done.stdout)
        self.log.flush()
        if done.returncode != 0:
            tail = [line for line in done.stdout.strip().splitlines() if line.strip()][-1:] or ["no output"]
            raise PrepareError(f"{what} failed (exit code {done.returncode}): {tail[0]}")
        return done.stdout

    def make_venv(self) -> None:
        root = self.env.root
        assert root is not None
        if self.env.python.is_file():
            self.step(1, f"using the environment at {root}")
            return
        self.step(1, f"creating the environment at {root}")
        self.run([self.host_python, "-m", "venv", str(root)], "creating the virtual environment")

    def choose_torch(self) -> str | None:
        """The torch version to install into the runtime, or None when the host's is used."""
        host = host_torch_version()
        if host is not None and version_tuple(host) >= version_tuple(TORCH_FLOOR):
            self.step(2, f"using the host's torch {host}")
            self._write_host_path_file()
            return None
        why = f"the host's torch {host} is older than {TORCH_FLOOR}" if host else "the host has no torch"
        self.step(
            2,
            f"{why}: installing torch {TORCH_FOR_RUNTIME} into the runtime only (about "
            f"{TORCH_DOWNLOAD_GB:g} GB to download; the host's torch stays as it is)",
        )
        self._write_host_path_file()  # the host's other packages still fill in what is missing
        return TORCH_FOR_RUNTIME

    def _write_host_path_file(self) -> None:
        purelib = self.run(
            [str(self.env.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            "finding the runtime's site-packages",
        ).strip()
        Path(purelib, HOST_PATH_FILE).write_text("\n".join(host_site_packages()) + "\n", encoding="utf-8")
        Path(purelib, EXTENSION_PATH_FILE).write_text(f"{EXTENSION_ROOT}\n", encoding="utf-8")

    def install(self, torch_version: str | None) -> None:
        lines = requirement_lines()
        held = torch_version or host_torch_version()
        self.step(3, f"installing {len(lines)} packages ({', '.join(line.split('==')[0] for line in lines)})")
        pip = [str(self.env.python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        if torch_version:
            index = os.environ.get("WAN_TORCH_INDEX_URL", TORCH_INDEX_URL if sys.platform != "darwin" else "")
            where = ["--index-url", index, "--extra-index-url", "https://pypi.org/simple"] if index else []
            self.run(  # torchvision (for spandrel) from the same index, the build made for that torch
                [*pip, *where, f"torch=={torch_version}", "torchvision"], f"installing torch {torch_version}"
            )
        with tempfile.TemporaryDirectory(prefix="wan-runtime-") as folder:
            constraints = Path(folder, "constraints.txt")
            constraints.write_text(f"torch=={held}\n" if held else "", encoding="utf-8")
            requirements = Path(folder, "requirements.txt")
            alone = [line for line in lines if line.split("==")[0] in WITHOUT_DEPENDENCIES]
            requirements.write_text("\n".join(sorted(set(lines) - set(alone))) + "\n", encoding="utf-8")
            self.run([*pip, "-r", str(requirements), "-c", str(constraints)], "installing the packages")
            if alone:
                self.run([*pip, "--no-deps", *alone], f"installing {', '.join(alone)} (without dependencies)")

    def check(self) -> dict[str, object]:
        self.step(4, "checking that the runtime imports torch, diffusers and the extension")
        output = self.run([str(self.env.python), "-c", CHECK], "checking the runtime", timeout=600)
        versions = json.loads(output.strip().splitlines()[-1])
        self.say(
            f"Wan Video runtime ready: torch {versions['torch']}, diffusers {versions['diffusers']}, "
            f"transformers {versions['transformers']}"
        )
        return versions


def prepare_runtime(
    env: RuntimeEnv, *, host_python: str | None = None, say: Callable[[str], None] = print
) -> bool:
    """Prepare (or update) `env` with the pinned packages; True when it is ready. Never raises
    for a failed step: the state file and `say` give the reason and the log's path."""
    if not env.owned:
        say("Wan Video: this interpreter is the runtime; nothing to prepare")
        return True
    assert env.root is not None
    env.root.mkdir(parents=True, exist_ok=True)
    lock = hold(env.lock_path)
    if lock is None:
        say(f"Wan Video: the runtime at {env.root} is being prepared by another process")
        return False
    try:
        env.write_state("preparing")
        work = _Preparation(env, host_python or sys.executable, say)
        try:
            work.make_venv()
            torch_version = work.choose_torch()
            work.install(torch_version)
            versions = work.check()
        except PrepareError as exc:
            env.write_state("failed", reason=str(exc), log=str(env.log_path))
            say(f"Wan Video: the runtime could not be prepared: {exc}. The log: {env.log_path}")
            return False
        finally:
            work.log.close()
        env.write_state("ready", versions=versions, torch_from="runtime" if torch_version else "host")
        return True
    finally:
        lock.close()


def remove_runtime(env: RuntimeEnv) -> None:
    """Delete the runtime environment (the host is not touched)."""
    if env.owned and env.root is not None and env.root.exists():
        shutil.rmtree(env.root)
