"""A disk cache of enhanced prompts, so re-planning the same settings is instant.

The key is a SHA-256 of everything that decides the answer: the model's identity, the prompt,
its context (movement phrase, style), the enhancement settings and the instructions' version.
One small JSON file per entry, written atomically, so concurrent runs and crashes never leave
a half-written entry. An answer that was rejected (junk, the wrong language) is stored too, as
the original prompt with the reason it was kept, so the same request does not ask the model
again; a prompt kept because the enhancer failed (a server down) is asked again next time.

Location: $WAN_CACHE_DIR/enhance, else $XDG_CACHE_HOME/wan-video/enhance, else
~/.cache/wan-video/enhance.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def default_cache_dir() -> Path:
    """Where enhanced prompts are cached (see the module doc)."""
    if os.environ.get("WAN_CACHE_DIR"):
        return Path(os.environ["WAN_CACHE_DIR"]).expanduser() / "enhance"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "wan-video" / "enhance"


def cache_key(parts: dict[str, Any]) -> str:
    """The hex key of a JSON-serialisable description of a request."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    """A stored answer: the prompt to use, and why the model's answer was not used (or "")."""

    prompt: str
    kept: str = ""


class EnhancementCache:
    """Enhanced prompts on disk, by key."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedAnswer | None:
        """The stored answer for `key`, or None (a missing or unreadable entry is a miss)."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("prompt"), str):
            return None
        kept = data.get("kept", "")
        return CachedAnswer(data["prompt"], kept if isinstance(kept, str) else "")

    def put(self, key: str, prompt: str, *, kept: str = "", **details: Any) -> None:
        """Store a prompt (with `kept`, the reason the model's answer was not used); a cache that
        cannot be written is skipped silently (it is only a cache)."""
        path = self._path(key)
        entry = {"prompt": prompt, **({"kept": kept} if kept else {}), **details}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False
            ) as handle:
                json.dump(entry, handle, ensure_ascii=False)
            os.replace(handle.name, path)
        except OSError:
            return

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        count = 0
        for path in self.folder.glob("*/*.json"):
            path.unlink(missing_ok=True)
            count += 1
        return count
