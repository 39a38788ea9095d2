"""Deforum prompt schedules: `{"0": "a forest --neg blurry", "max_f/2": "a castle"}` -> the
(positive, negative) prompt of every frame.

Deforum's rules: a key is a frame number or an expression of `max_f`; a prompt holds from its
frame until the next one, and the first prompt also covers the frames before it; `--neg`
splits a prompt into positive and negative parts; the global positive prompt goes in front of
every prompt and the global negative prompt after every negative part; `` `expr` `` is replaced
by the value of a math expression of `t` (the frame) and `max_f`.

Where Deforum is loose, this module is explicit: parts are joined with ", " (Deforum used a
space); prompts keyed outside the animation are reported and ignored (unless none is inside,
then the nearest one holds, as Deforum's fill does); WebUI attention syntax is made plain for
Wan's T5 encoder (see prompt_syntax).
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .expressions import ExpressionError, check_expression, evaluate_expression, excerpt
from .keyframes import MAX_FRAME, ScheduleError, frame_number, unquote
from .prompt_syntax import plain_prompt

NEGATIVE_SEPARATOR = "--neg"
MAX_PROMPTS = 10_000
MAX_PROMPT_LENGTH = 10_000
# `expr` with something in it; empty backticks are left as text (Deforum replaced them by 1)
_BACKTICK = re.compile(r"`(\s*[^`\s][^`]*)`")
_BACKTICK_VARIABLES = ("t", "max_f", "pi")

PromptEntries = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PromptKeyframe:
    """A prompt and the frame it starts at; `key` is the text the user wrote for the frame."""

    frame: int
    key: str
    text: str


def normalize_prompts(prompts: object, *, name: str = "prompts") -> PromptEntries:
    """Accept a mapping, a JSON object text or (key, prompt) pairs; return (key, prompt) pairs."""
    if isinstance(prompts, str):
        try:
            prompts = json.loads(prompts)
        except json.JSONDecodeError as exc:
            raise ScheduleError(
                name, f"is not a JSON object of frame -> prompt ({exc.msg}, character {exc.pos + 1})"
            ) from None
        except (ValueError, RecursionError) as exc:  # a number of over 4300 digits; nesting too deep
            detail = "nested too deeply" if isinstance(exc, RecursionError) else "a number is too long"
            raise ScheduleError(name, f"is not a JSON object of frame -> prompt ({detail})") from None
    if isinstance(prompts, Mapping):
        items: Iterable[object] = prompts.items()
    elif isinstance(prompts, (list, tuple)):
        items = prompts
    else:
        raise ScheduleError(
            name,
            f'must be an object of frame -> prompt, e.g. {{"0": "a forest"}}, not {type(prompts).__name__}',
        )
    entries = []
    for item in items:
        if not (isinstance(item, (list, tuple)) and len(item) == 2):
            raise ScheduleError(name, f"each entry must be a frame and a prompt, got {excerpt(_repr(item))}")
        key, text = item
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise ScheduleError(
                name, f"frame {excerpt(_repr(key))} must be a number or an expression of max_f"
            )
        if isinstance(key, int) and not abs(key) < MAX_FRAME:  # str() of a huge int raises, too
            raise ScheduleError(name, "a frame is too large; a frame must lie between -2**53 and 2**53")
        if not isinstance(text, str):
            raise ScheduleError(
                name, f"the prompt at frame {excerpt(_repr(key))} must be text, not {type(text).__name__}"
            )
        if len(text) > MAX_PROMPT_LENGTH:
            raise ScheduleError(
                name,
                f"the prompt at frame {excerpt(_repr(key))} has {len(text)} characters; "
                f"at most {MAX_PROMPT_LENGTH}",
            )
        entries.append((str(key).strip(), text))
        if len(entries) > MAX_PROMPTS:
            raise ScheduleError(name, f"has more than {MAX_PROMPTS} prompts")
    if not entries:
        raise ScheduleError(name, 'needs at least one prompt, e.g. {"0": "a misty forest"}')
    return tuple(entries)


def _repr(value: object) -> str:
    try:
        return repr(value)
    except ValueError:  # an int of over 4300 digits
        return type(value).__name__


def split_negative(text: str) -> tuple[str, str]:
    """Split `positive --neg negative` (every later `--neg` part also counts as negative)."""
    positive, *negatives = text.split(NEGATIVE_SEPARATOR)
    return positive.strip(), ", ".join(n.strip() for n in negatives if n.strip())


def _join(*parts: str) -> str:
    return ", ".join(p.strip() for p in parts if p and p.strip())


def _format_number(value: float) -> str:
    return f"{value:g}"


@lru_cache(maxsize=4096)
def _clean(text: str) -> str:
    return plain_prompt(text)


class PromptSchedule:
    """The prompt keyframes of an animation and the prompt pair in effect at any frame."""

    def __init__(
        self,
        prompts: object,
        max_frames: int,
        *,
        positive: str = "",
        negative: str = "",
        clean: bool = True,
        name: str = "prompts",
    ) -> None:
        self.max_frames = max_frames
        self.positive = positive
        self.negative = negative
        self.clean = clean
        self.name = name
        self.warnings: list[str] = []
        self.keyframes = self._parse(normalize_prompts(prompts, name=name))
        self._starts = [k.frame for k in self.keyframes]

    def _parse(self, entries: PromptEntries) -> tuple[PromptKeyframe, ...]:
        by_frame: dict[int, PromptKeyframe] = {}
        for key, text in entries:
            try:
                frame = frame_number(unquote(key), max_frames=self.max_frames, seed=-1)
            except ExpressionError as exc:
                raise ScheduleError(self.name, f"frame '{excerpt(key)}': {exc.message}") from None
            if frame in by_frame:
                self.warnings.append(
                    f"{self.name}: '{excerpt(by_frame[frame].key)}' and '{excerpt(key)}' both start at "
                    f"frame {frame}; the later one ('{excerpt(key)}') is used"
                )
            for expression in _BACKTICK.findall(text):
                try:
                    check_expression(expression, _BACKTICK_VARIABLES)
                except ExpressionError as exc:
                    raise ScheduleError(
                        self.name,
                        f"prompt at '{excerpt(key)}', expression `{excerpt(expression)}`: {exc.message}",
                    ) from None
            by_frame[frame] = PromptKeyframe(frame, key, text)
        ordered = sorted(by_frame.values(), key=lambda k: k.frame)
        inside: list[PromptKeyframe] = []
        outside: list[PromptKeyframe] = []
        for k in ordered:
            (inside if 0 <= k.frame < self.max_frames else outside).append(k)
        if not inside:
            before = [k for k in outside if k.frame < 0]
            nearest = before[-1] if before else outside[0]
            self.warnings.append(
                f"{self.name}: no prompt starts inside frames 0-{self.max_frames - 1}; "
                f"the prompt at '{excerpt(nearest.key)}' is used for every frame"
            )
            return (PromptKeyframe(0, nearest.key, nearest.text),)
        for k in outside:
            self.warnings.append(
                f"{self.name}: the prompt at '{excerpt(k.key)}' (frame {k.frame}) lies outside frames "
                f"0-{self.max_frames - 1} and is never shown"
            )
        return tuple(inside)

    def keyframe_at(self, frame: int) -> PromptKeyframe:
        """The keyframe in effect at `frame` (the first one also covers the frames before it)."""
        index = bisect.bisect_right(self._starts, frame) - 1
        return self.keyframes[max(index, 0)]

    def _substitute(self, key: str, text: str, frames: np.ndarray) -> list[str]:
        """Replace every `expr` in text (of the prompt at `key`) by its value at each of `frames`."""
        pieces = _BACKTICK.split(text)
        columns: list[list[str]] = []
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                columns.append([piece] * len(frames))
                continue
            values = (frames, self.max_frames - 1, math.pi)
            variables = dict(zip(_BACKTICK_VARIABLES, values, strict=True))
            try:  # finite values, or an error naming the frame
                values = np.broadcast_to(evaluate_expression(piece, variables), frames.shape)
            except ExpressionError as exc:
                raise ScheduleError(
                    self.name, f"prompt at '{excerpt(key)}', expression `{excerpt(piece)}`: {exc.message}"
                ) from None
            columns.append([_format_number(float(v)) for v in values])
        return ["".join(row) for row in zip(*columns, strict=True)]

    def _pairs(self, keyframe: PromptKeyframe, frames: np.ndarray) -> list[tuple[str, str]]:
        positive, negative = split_negative(keyframe.text)
        positive = _join(self.positive, positive)
        negative = _join(negative, self.negative)
        if "`" not in positive and "`" not in negative:
            pair = (_clean(positive), _clean(negative)) if self.clean else (positive, negative)
            return [pair] * len(frames)
        positives = self._substitute(keyframe.key, positive, frames)
        negatives = self._substitute(keyframe.key, negative, frames)
        if self.clean:
            return [(_clean(p), _clean(n)) for p, n in zip(positives, negatives, strict=True)]
        return list(zip(positives, negatives, strict=True))

    def render(self, keyframe: PromptKeyframe, frame: int) -> tuple[str, str]:
        """The (positive, negative) pair of `keyframe`'s prompt as shown at `frame`."""
        return self._pairs(keyframe, np.array([frame], dtype=np.int64))[0]

    def at(self, frame: int) -> tuple[str, str]:
        """The (positive, negative) prompt pair at `frame`."""
        return self.render(self.keyframe_at(frame), frame)

    def per_frame(self) -> list[tuple[str, str]]:
        """The (positive, negative) prompt pair of every frame."""
        result: list[tuple[str, str]] = []
        ends = [*self._starts[1:], self.max_frames]
        for i, (keyframe, end) in enumerate(zip(self.keyframes, ends, strict=True)):
            start = 0 if i == 0 else keyframe.frame
            result.extend(self._pairs(keyframe, np.arange(start, end, dtype=np.int64)))
        return result


def prompt_at_frames(
    prompts: object,
    max_frames: int,
    *,
    positive: str = "",
    negative: str = "",
    clean: bool = True,
) -> list[tuple[str, str]]:
    """The (positive, negative) prompt of every frame of a Deforum prompt schedule."""
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise ValueError(f"max_frames must be a whole number of at least 1 (got {max_frames!r})")
    schedule = PromptSchedule(prompts, max_frames, positive=positive, negative=negative, clean=clean)
    return schedule.per_frame()
