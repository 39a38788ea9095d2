"""WebUI installer of the Wan Video extension (the WebUI runs it at every start, before the UI).

It never installs, upgrades or downgrades a package of the WebUI's own environment: `pip freeze`
of the WebUI is the same before and after. It prepares the extension's own runtime environment
instead (wan.runtime: a virtual environment in the extension's runtime/ folder, or
--wan-runtime-dir / $WAN_RUNTIME_DIR, which reuses the WebUI's torch when it is new enough),
with a line of progress per step, and puts numexpr (for the tab's schedules) in that folder too
when the WebUI's Python lacks it. A runtime that is ready is left as it is. Nothing here stops
the WebUI from starting: a failed step prints one line with the reason and the log's path, and
the tab says the same, with a button that prepares the runtime again.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

EXTENSION_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(EXTENSION_DIR))


def runtime_dir() -> Path:
    """--wan-runtime-dir from the WebUI's COMMANDLINE_ARGS, else $WAN_RUNTIME_DIR, else runtime/
    in the extension's folder (the WebUI does not hand its flags to install.py)."""
    words = shlex.split(os.environ.get("COMMANDLINE_ARGS", ""), posix=os.name != "nt")
    for index, word in enumerate(words):
        if word == "--wan-runtime-dir" and index + 1 < len(words):
            return Path(words[index + 1].strip('"')).expanduser()
        if word.startswith("--wan-runtime-dir="):
            return Path(word.split("=", 1)[1].strip('"')).expanduser()
    if os.environ.get("WAN_RUNTIME_DIR"):
        return Path(os.environ["WAN_RUNTIME_DIR"]).expanduser()
    return EXTENSION_DIR / "runtime"


def prepare(say=print) -> bool:  # type: ignore[no-untyped-def]
    """Prepare what the extension needs; True when everything is ready."""
    from wan.runtime import RuntimeEnv, prepare_runtime
    from wan.runtime.front import install_front_packages

    root = runtime_dir()
    front = install_front_packages(root, say)
    env = RuntimeEnv(root)
    status = env.status()
    if status.ready:
        return front
    if status.state in ("outdated", "failed", "missing"):
        say(f"Wan Video: {status.message}; preparing it (the first time takes a few minutes)")
    return prepare_runtime(env, say=say) and front


if __name__ == "__main__":
    try:
        prepare()
    except Exception as exc:  # the WebUI must start whatever happens here; the tab says what is missing
        print(f"Wan Video: preparing the runtime failed: {type(exc).__name__}: {exc}")
