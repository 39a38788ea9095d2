"""Model downloads the tab starts: `python -m wan models download ID` in a process of the runtime
environment (the front process keeps the WebUI's own, older huggingface_hub out of it), its
output in `<queue>/downloads/<id>.log`, its progress read from the last line of that log.

One download per model at a time; a download that was running when the server stopped is not
resumed by itself: starting it again continues the files where they stopped.
"""

from __future__ import annotations

import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WanError
from ..runtime import RuntimeEnv

_ID = re.compile(r"[a-z0-9][a-z0-9.\-]{0,63}\Z")
TAIL_BYTES = 4096


class DownloadUnavailable(WanError, RuntimeError):
    """A download the server will not start (downloads are off, an unknown model, one running)."""


@dataclass
class _Download:
    process: subprocess.Popen[bytes]
    log: Path


def last_line(path: Path, starting: str = "") -> str:
    """The last non-empty line of a log (a progress bar redraws itself with carriage returns),
    of those starting with `starting` when there is one."""
    try:
        with path.open("rb") as file:
            file.seek(0, 2)
            file.seek(max(0, file.tell() - TAIL_BYTES))
            tail = file.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in re.split(r"[\r\n]", tail) if line.strip()]
    chosen = [line for line in lines if line.startswith(starting)] or lines
    return chosen[-1] if chosen else ""


class Downloads:
    """The model downloads of one server (see the module doc)."""

    def __init__(self, runtime: RuntimeEnv, folder: Path, models_dir: Path) -> None:
        self.runtime, self.folder, self.models_dir = runtime, Path(folder), Path(models_dir)
        self._running: dict[str, _Download] = {}
        self._lock = threading.Lock()

    def log_path(self, model_id: str) -> Path:
        """Where a model's download writes its output."""
        return self.folder / f"{model_id}.log"

    def start(self, model_id: str) -> str:
        """Start downloading a registry model; what happens, in words."""
        if not _ID.match(model_id):
            raise DownloadUnavailable(f"'{model_id[:64]}' is not a model id")
        with self._lock:
            current = self._running.get(model_id)
            if current is not None and current.process.poll() is None:
                raise DownloadUnavailable(f"{model_id} is being downloaded already")
            self.folder.mkdir(parents=True, exist_ok=True)
            log = self.log_path(model_id)
            command = self.runtime.command(
                "models", "download", model_id, "--models-dir", str(self.models_dir)
            )
            with log.open("wb") as output:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=self.runtime.worker_environment(),
                )
            self._running[model_id] = _Download(process, log)
        return f"Downloading {model_id} into {self.models_dir}; progress below (log: {log})."

    def status(self) -> dict[str, dict[str, Any]]:
        """Each download this server started: state (running, done, failed) and its last line."""
        with self._lock:
            running = dict(self._running)
        states = {}
        for model_id, download in running.items():
            code = download.process.poll()
            state = "running" if code is None else ("done" if code == 0 else "failed")
            line = last_line(download.log, "error:" if state == "failed" else "")
            states[model_id] = {"state": state, "line": line}
        return states

    def active(self) -> bool:
        """Whether a download is running."""
        return any(item["state"] == "running" for item in self.status().values())

    def stop(self) -> None:
        """Stop the downloads still running (they resume when started again)."""
        with self._lock:
            for download in self._running.values():
                if download.process.poll() is None:
                    download.process.terminate()
