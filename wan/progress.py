"""A one-line progress bar for render events in a terminal, and a render's per-stage timings
(metrics.json's `stages`) as table rows and a one-line summary."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

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


STAGE_HEADERS = ["stage", "seconds", "share", "peak memory"]


def format_bytes(count: int | None) -> str:
    """'1.23 GiB', '456 MiB' or '-'."""
    if count is None:
        return "-"
    if count >= 1024**3:
        return f"{count / 1024**3:.2f} GiB"
    return f"{count / 1024**2:.0f} MiB"


def stage_rows(stages: Mapping[str, Mapping[str, Any]] | None) -> list[list[Any]]:
    """A render's `stages` (metrics.json) as table rows: stage, seconds, share of the time, peak
    memory; the denoising row also says its steps and seconds per step."""
    if not stages:
        return []
    total = sum(float(record.get("seconds") or 0.0) for record in stages.values()) or 1.0
    rows = []
    for name, record in stages.items():
        seconds = float(record.get("seconds") or 0.0)
        label = name
        if record.get("steps"):
            label = f"{name} ({record['steps']} steps, {record.get('seconds_per_step') or 0:.3g} s/step)"
        rows.append(
            [
                label,
                round(seconds, 3),
                f"{seconds / total:.0%}",
                format_bytes(record.get("peak_memory_bytes")),
            ]
        )
    return rows


def stage_summary(stages: Mapping[str, Mapping[str, Any]] | None, *, limit: int = 4) -> str:
    """'denoising 81%, vae_decode 9%, ...': the largest stages' shares of the time, in one line."""
    if not stages:
        return ""
    total = sum(float(record.get("seconds") or 0.0) for record in stages.values()) or 1.0
    largest = sorted(stages.items(), key=lambda item: -float(item[1].get("seconds") or 0.0))[:limit]
    return ", ".join(f"{name} {float(record.get('seconds') or 0.0) / total:.0%}" for name, record in largest)
