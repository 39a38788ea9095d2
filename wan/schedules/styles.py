"""Style schedules: a style text per keyframe, in Deforum keyframe syntax with text values
(`0:(watercolor), 48:(oil painting)`) or as a JSON object like a prompt schedule
(`{"0": "watercolor", "48": "oil painting"}`)."""

from __future__ import annotations

import json

from .keyframes import ScheduleError, frame_number, split_top_level, unquote


class StyleScheduleError(ScheduleError):
    """A style schedule that cannot be read."""


def _entries(text: str, name: str) -> list[tuple[str, str]]:
    """(frame text, style) pairs in the order written."""
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            detail = (
                f"{exc.msg} at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else "too deep"
            )
            raise StyleScheduleError(name, f"is not valid JSON: {detail}", text=text) from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise StyleScheduleError(name, 'as JSON must map frames to style texts, e.g. {"0": "watercolor"}')
        return [(str(k), v) for k, v in data.items()]
    entries = []
    for part, start in split_top_level(text, ","):
        if not part.strip():
            continue
        pieces = split_top_level(part, ":")
        if len(pieces) < 2:
            raise StyleScheduleError(
                name,
                f"'{part.strip()}' needs a ':' between the frame and the style, e.g. 0:(watercolor)",
                text=text,
                position=start,
            )
        value = unquote(part[pieces[1][1] :])
        if value.startswith("(") and value.endswith(")"):
            value = unquote(value[1:-1])
        entries.append((pieces[0][0], value))
    return entries


def parse_style_schedule(
    text: str, max_frames: int, *, name: str = "style_schedule"
) -> tuple[tuple[int, str], ...]:
    """Keyframes (frame, style) of a style schedule, sorted; a repeated frame: the last wins."""
    text = text.strip()
    if not text:
        return ()
    by_frame: dict[int, str] = {}
    for key, value in _entries(text, name):
        try:
            frame = frame_number(unquote(key), max_frames=max_frames, seed=-1)
        except ValueError as exc:
            raise StyleScheduleError(
                name, f"frame '{unquote(key)}' is not a frame number: {exc}", text=text
            ) from None
        if frame < 0:
            raise StyleScheduleError(name, f"frame {frame} is negative; frames start at 0", text=text)
        by_frame[frame] = value.strip()
    return tuple(sorted(by_frame.items()))
