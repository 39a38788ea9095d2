"""Run-folder files between nodes: what changed in a folder since the last look, read as bytes,
and written into another folder whole (a reader never sees half a file)."""

from __future__ import annotations

import os
from pathlib import Path

Stamp = tuple[int, int]  # (size, modification time in ns)


def stamps(folder: Path) -> dict[str, Stamp]:
    """Every file under `folder` by its relative path (with / separators), with its stamp."""
    found: dict[str, Stamp] = {}
    if not folder.is_dir():
        return found
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.endswith(".part"):
            stat = path.stat()
            found[path.relative_to(folder).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def read_changed(folder: Path, seen: dict[str, Stamp]) -> dict[str, bytes]:
    """The files of `folder` that are new or changed since `seen` (updated in place), as bytes."""
    changed: dict[str, bytes] = {}
    for name, stamp in stamps(folder).items():
        if seen.get(name) != stamp:
            changed[name] = (folder / name).read_bytes()
            seen[name] = stamp
    return changed


def read_all(folder: Path) -> dict[str, bytes]:
    """Every file of `folder` as bytes (a run to continue elsewhere)."""
    return read_changed(folder, {})


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write `files` (relative path -> bytes) under `folder`, each whole (a temporary file, then a
    rename); a clip's metadata (.json) last, since it marks the clip as finished."""
    root = folder.resolve()
    for name in sorted(files, key=lambda n: (n.endswith(".json"), n)):
        target = (root / name).resolve()
        if root not in target.parents:
            raise ValueError(f"a shipped file names a path outside its run folder: {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(files[name])
        os.replace(partial, target)
