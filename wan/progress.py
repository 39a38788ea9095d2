"""A one-line progress bar for render events in a terminal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .render.events import ProgressEvent


def format_seconds(seconds: float | None) -> str:
    """'1h02m', '4m05s', '12s' or '?'."""
    if seconds is None:
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class ProgressBar:
    """Prints render progress on one line (steps) and messages on their own lines."""

    def __init__(self, stream: TextIO | None = None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self._on_line = False

    def __call__(self, event: ProgressEvent) -> None:
        """Show one event."""
        if event.kind == "step":
            filled = int(self.width * event.step / max(event.steps, 1))
            bar = "#" * filled + "-" * (self.width - filled)
            rate = f"{event.seconds_per_step:.2f} s/step" if event.seconds_per_step else ""
            line = (
                f"\rclip {event.clip + 1}/{event.clips} [{bar}] step {event.step}/{event.steps} {rate} "
                f"ETA {format_seconds(event.eta_seconds)} | frames {event.frames_done}/{event.frames_total}"
            )
            self.stream.write(line)
            self._on_line = True
        elif event.kind in ("loading", "encoding", "retry", "writing", "clip_done", "done") and event.message:
            if self._on_line:
                self.stream.write("\n")
                self._on_line = False
            label = {"clip_done": f"clip {event.clip + 1} done ->"}.get(event.kind, event.kind + ":")
            self.stream.write(f"{label} {event.message}\n")
        self.stream.flush()
