"""Where the operator's model files live: the models folder and the LoRA folders.

The models folder is, in order: $WAN_MODELS_DIR, the WebUI's `--wan-models-dir` flag,
`<WebUI>/models/wan` inside the WebUI, else `./models/wan` (an explicit folder, e.g. `--models-dir`,
is passed by the caller instead).

LoRA files are looked up by name in the LoRA folders: `<models folder>/loras`, then any folder the
front end adds (inside the WebUI, the host's own `models/Lora`, added by wan.webui). Settings are
validated with the folders of `lora_search(...)` when a front end set them, else with the default
ones; a name is kept as the absolute path it was found at, so a worker process that renders the
job needs none of this.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

LORA_SUBFOLDER = "loras"


def default_models_dir() -> Path:
    """The folder where Wan models live (see the module doc for the order)."""
    if os.environ.get("WAN_MODELS_DIR"):
        return Path(os.environ["WAN_MODELS_DIR"]).expanduser()
    shared = sys.modules.get("modules.shared")  # only present inside the WebUI
    flag = getattr(getattr(shared, "cmd_opts", None), "wan_models_dir", None)
    if flag:
        return Path(flag).expanduser()
    paths = sys.modules.get("modules.paths")
    if paths is not None and getattr(paths, "models_path", None):
        return Path(paths.models_path) / "wan"
    return Path("models") / "wan"


def default_lora_folders(
    models_dir: str | Path | None = None, extra: Sequence[str | Path] = ()
) -> tuple[Path, ...]:
    """`<models folder>/loras`, then the `extra` folders (no duplicates)."""
    models = Path(models_dir).expanduser() if models_dir else default_models_dir()
    folders = [models / LORA_SUBFOLDER, *(Path(folder).expanduser() for folder in extra)]
    return tuple(dict.fromkeys(folders))


_lora_folders: ContextVar[tuple[Path, ...] | None] = ContextVar("wan_lora_folders", default=None)


def lora_folders() -> tuple[Path, ...]:
    """The folders LoRA names are looked up in now (see the module doc)."""
    chosen = _lora_folders.get()
    return chosen if chosen is not None else default_lora_folders()


@contextmanager
def lora_search(folders: Sequence[str | Path]) -> Iterator[tuple[Path, ...]]:
    """Look LoRA names up in `folders` inside the block (per thread and task)."""
    token = _lora_folders.set(tuple(Path(folder) for folder in folders))
    try:
        yield _lora_folders.get() or ()
    finally:
        _lora_folders.reset(token)
