"""One server per job queue: an exclusive lock on `<queue folder>/queue.lock`, held while the
server runs. A second server on the same folder is refused with the holder's process id, host
and start time, instead of marking the first one's running job interrupted and rendering into
the same run folders.

The lock is the operating system's (wan.locks): it goes away with the process that holds it, so
a server that was killed leaves no stale lock.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

from ..errors import WanError
from ..locks import hold
from .jobs import QueueUnavailable

LOCK_FILE = "queue.lock"
# Windows locks are mandatory (no one else may read a locked byte): the holder's note has its own file.
OWNER_FILE = "queue.owner.json"


class QueueBusy(WanError, RuntimeError):
    """Another server holds the queue."""


class QueueLock:
    """The lock of one queue folder; `acquire` or QueueBusy, `release` when the server stops."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.owner_path = Path(folder) / OWNER_FILE
        self._handle: IO[bytes] | None = None

    def holder(self) -> dict[str, Any]:
        """What the holder wrote into the lock file (pid, host, since), or {}."""
        try:
            note = json.loads(self.owner_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return note if isinstance(note, dict) else {}

    def acquire(self) -> None:
        """Hold the queue, or raise QueueBusy naming the folder and the server that holds it
        (QueueUnavailable when the folder cannot be made or the lock file cannot be opened)."""
        folder = self.path.parent
        if folder.exists() and not folder.is_dir():
            raise QueueUnavailable(f"{folder} is a file, not a folder; choose another output folder")
        try:
            handle = hold(self.path)
        except OSError as exc:
            raise QueueUnavailable(
                f"cannot lock the job queue in {folder}: {exc.strerror or exc}; check the folder and "
                "its permissions, or choose another output folder"
            ) from None
        if handle is None:
            holder = self.holder()
            since = (
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["since"]))
                if "since" in holder
                else "?"
            )
            raise QueueBusy(
                f"the job queue in {self.path.parent} is in use by another Wan Video server "
                f"(process {holder.get('pid', '?')} on {holder.get('host', '?')}, since {since}); stop that "
                "server, or give this one another output folder"
            )
        note = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        try:
            self.owner_path.write_text(json.dumps(note), encoding="utf-8")
        except OSError as exc:
            handle.close()
            raise QueueUnavailable(
                f"cannot write {self.owner_path}: {exc.strerror or exc}; check the folder's permissions"
            ) from None
        self._handle = handle

    def release(self) -> None:
        """Let another server take the queue."""
        if self._handle is not None:
            self.owner_path.unlink(missing_ok=True)
            self._handle.close()  # closing the file drops the lock
            self._handle = None
