"""Deforum keyframe schedules: `"0:(0), 30:(5*sin(t/10)), max_f:(1)"` -> one value per frame.

The rules are Deforum's (`FrameInterpolater` in deforum_helpers/animation_key_frames.py):

* `frame:(value)` pairs separated by commas. A frame is a whole number or an expression of
  `max_f` (last frame index) and `s` (seed), quoted or not; it is truncated to an integer.
* A value is a *number* when, without its quotes and parentheses, it is a plain decimal
  (`5`, `-0.5`, `.25`). Numbers are interpolated (Linear; Quadratic/Cubic on request).
* Anything else is an *expression* of `t` (frame), `max_f` and `s`, evaluated at every frame
  from its keyframe until the next numeric keyframe (so `1e-3` or `( 5 )` hold, as in Deforum).
* Before the first and after the last keyframe the value holds. Keyframes outside
  0..max_frames-1 are ignored, as Deforum ignores them.

Where Deforum itself fails, this module does the sensible thing instead (documented in
README "Schedules"): a first keyframe after frame 0 holds its value back to frame 0; commas
inside function calls (`where(t>50, 2, -2)`) do not split keyframes; a trailing comma is
allowed; a quoted expression value is unquoted; `pi` is available; a schedule whose keyframes
all lie outside the animation holds the value of the nearest one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import WanError
from .expressions import FLOAT_RANGE, ExpressionError, check_expression, evaluate_expression, excerpt
from .interpolation import effective_interpolation, fill_gaps, normalize_interpolation

# Deforum's check_is_number: an optional sign, digits, optionally a point and more digits.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)\Z")
_QUOTES = "'\""
_QUOTED_IN_PARENS = re.compile(r"\(\s*(['\"])(.*)\1\s*\)\Z", re.S)
FRAME_VARIABLES = ("max_f", "s", "pi")
VALUE_VARIABLES = ("t", "max_f", "s", "pi")
# Beyond 2**53 a float64 no longer holds every whole number, so no frame could be told apart.
MAX_FRAME = 2**53


class ScheduleError(WanError, ValueError):
    """A schedule that cannot be parsed or evaluated, located by keyframe and character."""

    def __init__(
        self,
        schedule: str,
        message: str,
        *,
        text: str = "",
        position: int | None = None,
        keyframe: int | None = None,
    ) -> None:
        self.schedule = schedule
        self.message = message
        self.text = text
        self.position = position
        self.keyframe = keyframe
        super().__init__(str(self))

    @property
    def detail(self) -> str:
        """The message with its location but without the schedule name."""
        where = []
        if self.keyframe is not None:
            where.append(f"keyframe {self.keyframe + 1}")
        if self.position is not None:
            where.append(f"character {self.position + 1}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return f"{self.schedule}: {self.detail}"

    def pointer(self) -> str:
        """The schedule text with a caret under the offending character (for terminals)."""
        if self.position is None or not self.text:
            return ""
        return f"  {self.text}\n  {' ' * self.position}^"


@dataclass(frozen=True)
class Keyframe:
    """One `frame:(value)` pair; `number` is set when the value is numeric in Deforum's sense."""

    frame: int
    value: str
    number: float | None
    index: int
    position: int
    value_position: int


def _sanitize(text: str) -> str:
    return text.replace("'", "").replace('"', "").replace("(", "").replace(")", "")


def unquote(text: str) -> str:
    """`text` without surrounding whitespace and one pair of surrounding quotes."""
    return _unquote(text, 0)[0]


def _unquote(text: str, position: int) -> tuple[str, int]:
    """Strip whitespace and one pair of surrounding quotes; return the text and its offset."""
    body = text.strip()
    position += len(text) - len(text.lstrip())
    if len(body) >= 2 and body[0] in _QUOTES and body[-1] == body[0]:
        inner = body[1:-1]
        position += 1 + len(inner) - len(inner.lstrip())
        body = inner.strip()
    return body, position


def split_top_level(text: str, separator: str) -> list[tuple[str, int]]:
    """Split at `separator` outside parentheses and quotes; returns (part, start offset) pairs."""
    parts: list[tuple[str, int]] = []
    depth = 0
    quote = ""
    start = 0
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in _QUOTES:
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == separator and depth == 0:
            parts.append((text[start:i], start))
            start = i + 1
    parts.append((text[start:], start))
    return parts


def frame_number(text: str, *, max_frames: int, seed: int) -> int:
    """A keyframe's frame: a whole number, or an expression of max_f and s, truncated."""
    if _NUMBER.match(_sanitize(text).strip()):
        value = float(_sanitize(text))
    else:
        result = evaluate_expression(text, {"max_f": max_frames - 1, "s": seed, "pi": math.pi})
        if result.ndim:
            raise ExpressionError("the frame must be a single finite number")
        value = float(result)
    if not abs(value) < MAX_FRAME:
        shown = "" if math.isinf(value) else f" ({value:.6g})"
        raise ExpressionError(f"too large{shown}; a frame must lie between -2**53 and 2**53")
    return int(value)


def parse_keyframes(
    text: str, max_frames: int, *, seed: int = -1, name: str = "schedule"
) -> tuple[Keyframe, ...]:
    """Parse a schedule string into keyframes sorted by frame (a repeated frame: last one wins)."""
    if not isinstance(text, str):
        raise ScheduleError(name, f"must be a text such as '0:(0)', not {type(text).__name__}")
    parts = [(part, start) for part, start in split_top_level(text, ",") if part.strip()]
    if not parts:  # blank, or commas only
        raise ScheduleError(name, "is empty; write at least one keyframe, e.g. 0:(0)", text=text)
    by_frame: dict[int, Keyframe] = {}
    for index, (part, start) in enumerate(parts):
        lead = len(part) - len(part.lstrip())

        def fail(message: str, offset: int, *, k: int = index) -> ScheduleError:
            return ScheduleError(name, message, text=text, position=offset, keyframe=k)

        pieces = split_top_level(part, ":")
        if len(pieces) < 2:
            raise fail(
                f"'{excerpt(part.strip())}' needs a ':' between the frame and the value, e.g. 30:(5)",
                start + lead,
            )
        frame_text, frame_offset = _unquote(pieces[0][0], start)
        if not frame_text:
            raise fail("the frame before ':' is missing", start + lead)
        try:
            frame = frame_number(frame_text, max_frames=max_frames, seed=seed)
        except ExpressionError as exc:
            offset = frame_offset + (exc.position or 0)
            raise fail(f"frame '{excerpt(frame_text)}': {exc.message}", offset) from None
        # Deforum keeps only what lies between the first and second ':'.
        raw_value, value_start = pieces[1]
        value, value_offset = _unquote(raw_value, start + value_start)
        quoted = _QUOTED_IN_PARENS.match(value)
        if quoted:  # ("t/2") -> (t/2); Deforum would hand the quoted text to numexpr and fail
            value = f"({quoted.group(2)})"
            value_offset += quoted.start(2) - 1
        if not value:
            raise fail("the value after ':' is missing", start + value_start)
        number = float(_sanitize(value)) if _NUMBER.match(_sanitize(value)) else None
        if number is not None and not math.isfinite(number):
            raise fail(f"the number {excerpt(_sanitize(value))} is too large: {FLOAT_RANGE}", value_offset)
        if number is None:
            try:
                check_expression(value, VALUE_VARIABLES)
            except ExpressionError as exc:
                raise fail(exc.message, value_offset + (exc.position or 0)) from None
        by_frame[frame] = Keyframe(frame, value, number, index, start + lead, value_offset)
    return tuple(sorted(by_frame.values(), key=lambda k: k.frame))


def _expression_values(
    keyframe: Keyframe, frames: np.ndarray, *, max_frames: int, seed: int, name: str, text: str
) -> np.ndarray:
    variables = {"t": frames, "max_f": max_frames - 1, "s": seed, "pi": math.pi}
    try:
        values = evaluate_expression(keyframe.value, variables)  # finite, or an error naming the frame
    except ExpressionError as exc:
        offset = keyframe.value_position + (exc.position or 0)
        raise ScheduleError(name, exc.message, text=text, position=offset, keyframe=keyframe.index) from None
    return np.broadcast_to(values, frames.shape).astype(np.float64)


def _value_at(keyframe: Keyframe, frame: int, **context: object) -> float:
    if keyframe.number is not None:
        return keyframe.number
    frames = np.array([frame], dtype=np.int64)
    return float(_expression_values(keyframe, frames, **context)[0])  # type: ignore[arg-type]


@lru_cache(maxsize=256)
def _evaluate(text: str, max_frames: int, seed: int, interpolation: str, name: str) -> np.ndarray:
    keyframes = parse_keyframes(text, max_frames, seed=seed, name=name)
    context = {"max_frames": max_frames, "seed": seed, "name": name, "text": text}
    inside = [k for k in keyframes if 0 <= k.frame < max_frames]
    if not inside:
        before = [k for k in keyframes if k.frame < 0]
        nearest = before[-1] if before else keyframes[0]
        values = np.full(max_frames, _value_at(nearest, nearest.frame, **context))
        values.flags.writeable = False
        return values

    values = np.full(max_frames, np.nan)
    boundaries = [k.frame for k in inside[1:]] + [max_frames]
    for keyframe, end in zip(inside, boundaries, strict=True):
        if keyframe.number is not None:
            values[keyframe.frame] = keyframe.number
        else:
            frames = np.arange(keyframe.frame, end, dtype=np.int64)
            values[keyframe.frame : end] = _expression_values(keyframe, frames, **context)

    known = np.flatnonzero(~np.isnan(values))
    values[0] = values[known[0]]
    values[-1] = values[known[-1]]
    method = effective_interpolation(interpolation, len(keyframes), int(np.count_nonzero(~np.isnan(values))))
    values = fill_gaps(values, method)
    values.flags.writeable = False
    return values


def clear_cache() -> None:
    """Forget evaluated schedules (they are cached by text, frame count, seed and method)."""
    _evaluate.cache_clear()


def evaluate_schedule(
    text: str,
    max_frames: int,
    *,
    seed: int = -1,
    interpolation: str = "Linear",
    name: str = "schedule",
) -> np.ndarray:
    """Evaluate a Deforum keyframe string into a float64 array of `max_frames` values."""
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise ValueError(f"max_frames must be a whole number of at least 1 (got {max_frames!r})")
    try:
        method = normalize_interpolation(interpolation)
    except ValueError as exc:
        raise ScheduleError(name, str(exc)) from None
    return _evaluate(text, max_frames, int(seed), method, name).copy()
