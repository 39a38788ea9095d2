"""Every difference between gradio 3.41 (A1111 1.6-1.10), 4.40 (Forge) and current gradio that
the tab meets, in one place.

- Component keyword arguments come and go between versions (`info`, `minimum`, `buttons`, ...):
  `make` passes only those the installed class declares.
- Event JavaScript is `_js=` in 3.x and `js=` from 4.
- Following a job is a generator up to 4.x (see `follow`) and `gr.Timer` from 5.
- Redrawing as the user types needs a debounce of our own (`Debounce`, `on_change`): gradio 4's
  `trigger_mode` is not in 3.41.
- An uploaded file arrives as a temp-file object in 3.x and as a path from 4; where uploads land
  is `upload_folders` (a caller can name any path in a file value, so actions accept only files
  inside those folders).
- Page CSS is a Blocks argument up to 4.x and a launch / mount argument from 6.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr

VERSION = tuple(int(part) for part in re.findall(r"\d+", gr.__version__)[:2])


@cache
def _parameters(function: Callable[..., Any]) -> frozenset[str]:
    target = function.__init__ if isinstance(function, type) else function
    return frozenset(inspect.signature(target).parameters)


def make(function: Callable[..., Any], **kwargs: Any) -> Any:
    """A component (or any gradio call) with the keyword arguments this gradio version knows."""
    known = _parameters(function)
    return function(**{key: value for key, value in kwargs.items() if key in known})


def js(code: str) -> dict[str, str]:
    """The keyword argument that runs `code` in the browser with an event."""
    return {"_js": code} if VERSION < (4, 0) else {"js": code}


def follow(
    source: Any,
    fn: Callable[..., Any],
    outputs: Sequence[Any],
    seconds: float,
    done: Callable[[Any], bool],
    state: Any = None,
) -> None:
    """Show `fn(source's value)` in `outputs` every `seconds`: with gr.Timer from gradio 5; before,
    with a generator started whenever `source` changes that ends once `done(value)` (a load
    event with `every=` would keep the value the page had when it loaded, and its endless loop
    keeps the WebUI's "Reload UI" from finishing). With `state` (a gr.State), fn takes its value
    too and returns its new value last, so a poll can remember what it showed."""
    extra = [state] if state is not None else []
    if hasattr(gr, "Timer"):
        gr.Timer(seconds).tick(fn, inputs=[source, *extra], outputs=[*outputs, *extra])
        return

    def stream(value: Any, *kept: Any) -> Any:
        remembered = kept[0] if kept else None
        while True:
            shown = fn(value, remembered) if extra else fn(value)
            if extra:
                remembered = shown[-1]
            yield shown
            if done(value):
                return
            time.sleep(seconds)

    source.change(stream, inputs=[source, *extra], outputs=[*outputs, *extra])


class Debounce:
    """Only the newest of quick successive calls of one browser session goes on: each call waits
    `seconds`, then `newest` says whether a later call of the same session came meanwhile (what
    typing into a box that redraws a plot needs, on every gradio: events run concurrently with
    queue=False, and gradio 4's trigger_mode is not in 3.41)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.latest: dict[str, int] = {}
        self.lock = threading.Lock()

    def newest(self, session: str) -> bool:
        """Wait, then whether this is still the session's newest call."""
        with self.lock:
            token = self.latest.get(session, 0) + 1
            self.latest[session] = token
        time.sleep(self.seconds)
        with self.lock:
            return self.latest.get(session) == token


def session_of(request: Any) -> str:
    """The browser session of a request (empty when this gradio does not say)."""
    return str(getattr(request, "session_hash", None) or "")


def on_change(component: Any, fn: Callable[..., Any], inputs: Sequence[Any], outputs: Sequence[Any]) -> None:
    """Run `fn` when the component changes, outside the queue (so quick changes run at once and a
    Debounce can drop all but the last), only the last of a burst where gradio can say so, and
    without a progress overlay over the outputs at every keystroke."""
    make(
        component.change,
        fn=fn,
        inputs=list(inputs),
        outputs=list(outputs),
        queue=False,
        trigger_mode="always_last",
        show_progress="hidden",
    )


def file_path(value: Any) -> str | None:
    """The path of an uploaded file, whatever form this gradio version gives it in."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("path") or value.get("name")
    return getattr(value, "name", None) or getattr(value, "path", None)


def upload_folders() -> list[Path]:
    """The folders this gradio saves uploaded files in: $GRADIO_TEMP_DIR, else <temp>/gradio
    (gradio 3.41 to 6), and whatever gradio.utils.get_upload_folder says where it exists."""
    folders = []
    getter = getattr(getattr(gr, "utils", None), "get_upload_folder", None)
    if callable(getter):
        with contextlib.suppress(Exception):
            folders.append(Path(getter()))
    if os.environ.get("GRADIO_TEMP_DIR"):
        folders.append(Path(os.environ["GRADIO_TEMP_DIR"]))
    folders.append(Path(tempfile.gettempdir()) / "gradio")
    return list(dict.fromkeys(folders))


def _payload_paths(payload: Any) -> list[str]:
    """The file paths a caller put in a file component's payload, whatever this version's form:
    {"name": ..., "is_file": true} in 3.x, FileData (or a dict with "path") from 4."""
    items = payload if isinstance(payload, (list, tuple)) else [payload]
    paths = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, dict):
            named = item.get("path") or (item.get("name") if item.get("is_file", True) else None)
        else:
            named = getattr(item, "path", None) or getattr(item, "name", None)
        if isinstance(named, str) and not named.startswith(("http://", "https://", "data:")):
            paths.append(named)
    return paths


def guard_uploads(component: Any, folders: Sequence[Path]) -> Any:
    """Let a file input take only files inside `folders` (where uploads land): a caller of the
    app's API can put any path in a file value, and gradio 3.41 then copies that file into its
    cache (where it is served) before the callback runs. The check runs before gradio's own
    handling of the value; the component is returned."""
    roots = [folder.resolve() for folder in folders]
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        for named in _payload_paths(payload):
            resolved = Path(named).resolve()
            if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
                raise gr.Error("That is not an uploaded file; choose the file with the file box.")
        return original(payload)

    component.preprocess = preprocess
    return component


def mounted(blocks: Any) -> None:
    """A Blocks served by mount_gradio_app (never launched): gradio 5 and later skip their own
    "only files that were uploaded" check for Blocks that did not launch; mark it launched so
    the check runs (the attribute does nothing else)."""
    if hasattr(blocks, "has_launched"):
        blocks.has_launched = True


def file_paths(value: Any) -> list[str]:
    """The paths of a multi-file upload."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [path for path in (file_path(item) for item in items) if path]


def blocks(*, title: str, css: str = "") -> Any:
    """A Blocks container (with the page CSS where this version takes it there)."""
    return make(gr.Blocks, title=title, css=css or None, analytics_enabled=False)


def takes_css_in_blocks() -> bool:
    """Whether gr.Blocks accepts css= (up to 4.x); else it goes to launch / mount."""
    return "css" in _parameters(gr.Blocks)
