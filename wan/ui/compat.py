"""Every difference between gradio 3.41 (A1111 1.6-1.10), 4.40 (Forge) and current gradio that
the tab meets, in one place.

- Component keyword arguments come and go between versions (`info`, `minimum`, `buttons`, ...):
  `make` passes only those the installed class declares.
- Event JavaScript is `_js=` in 3.x and `js=` from 4.
- Following a job is a generator up to 4.x (see `follow`) and `gr.Timer` from 5.
- An uploaded file arrives as a temp-file object in 3.x and as a path from 4.
- Page CSS is a Blocks argument up to 4.x and a launch / mount argument from 6.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable, Sequence
from functools import cache
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
    fn: Callable[[Any], Any],
    outputs: Sequence[Any],
    seconds: float,
    done: Callable[[Any], bool],
) -> None:
    """Show `fn(source's value)` in `outputs` every `seconds`: with gr.Timer from gradio 5; before,
    with a generator started whenever `source` changes that ends once `done(value)` (a load
    event with `every=` would keep the value the page had when it loaded, and its endless loop
    keeps the WebUI's "Reload UI" from finishing)."""
    if hasattr(gr, "Timer"):
        gr.Timer(seconds).tick(fn, inputs=[source], outputs=list(outputs))
        return

    def stream(value: Any) -> Any:
        while True:
            yield fn(value)
            if done(value):
                return
            time.sleep(seconds)

    source.change(stream, inputs=[source], outputs=list(outputs))


def file_path(value: Any) -> str | None:
    """The path of an uploaded file, whatever form this gradio version gives it in."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("path") or value.get("name")
    return getattr(value, "name", None) or getattr(value, "path", None)


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
