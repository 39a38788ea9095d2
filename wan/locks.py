"""Exclusive locks on files, held by the operating system (fcntl.flock on POSIX,
msvcrt.locking on Windows): they go away with the process that holds them, so a process that
was killed leaves no stale lock. Standard library only."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO


def try_lock(handle: IO[bytes]) -> bool:
    """Lock an open file exclusively without waiting; False when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def hold(path: str | Path) -> IO[bytes] | None:
    """The open, locked file at `path` (closing it releases the lock), or None when another
    process holds it. Windows locks are mandatory: keep nothing else in a lock file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+b")  # noqa: SIM115  (held open as long as the lock)
    if try_lock(handle):
        return handle
    handle.close()
    return None
