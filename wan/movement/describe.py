"""Words for camera movements: "camera movement with subtle panning left (sustained) and
gentle moving down (extended)", "slow orbit to the right", "static camera"."""

from __future__ import annotations

from collections.abc import Sequence

from .result import Movement

STATIC = "static camera"
# Patterns are named by their pace rather than by intensity ("slow orbit to the right").
PACES = {"subtle": "very slow", "gentle": "slow", "moderate": "steady", "strong": "fast"}


def directional(intensity: str, verb: str, direction: str, duration: str) -> str:
    """'subtle panning left (sustained)'."""
    return f"{intensity} {verb} {direction} ({duration})"


def sway(intensity: str, motion: str, duration: str) -> str:
    """A single swing out and back: 'gentle sway left and right (extended)'."""
    return f"{intensity} {motion} ({duration})"


def period(seconds: float) -> str:
    """'(period 2.6 s)'."""
    return f"(period {seconds:.1f} s)"


def pendulum(intensity: str, motion: str, seconds: float) -> str:
    """'slow pendulum sway left and right (period 2.6 s)'."""
    return f"{PACES[intensity]} pendulum {motion} {period(seconds)}"


def zigzag(intensity: str, motion: str, seconds: float) -> str:
    """'steady zig-zag left and right (period 2.0 s)' (motion 'sway left and right')."""
    span = motion.split(" ", 1)[1]
    return f"{PACES[intensity]} zig-zag {span} {period(seconds)}"


def orbit(intensity: str, direction: str) -> str:
    """'slow orbit to the right'."""
    return f"{PACES[intensity]} orbit to the {direction}"


def spiral(intensity: str, turn: str, travel: str) -> str:
    """'slow clockwise spiral forward'."""
    return f"{PACES[intensity]} {turn} spiral {travel}"


def figure_eight(intensity: str, orientation: str, seconds: float) -> str:
    """'slow horizontal figure-eight (period 4.0 s)'."""
    return f"{PACES[intensity]} {orientation} figure-eight {period(seconds)}"


def shake(intensity: str, pace: str) -> str:
    """'subtle handheld camera shake', 'strong, rapid handheld camera shake'."""
    return f"{intensity}{', ' + pace if pace else ''} handheld camera shake"


def join(phrases: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def describe(movements: Sequence[Movement], shaking: Movement | None) -> str:
    """The sentence for a window: its named movements, then the shake."""
    if not movements:
        return f"{STATIC} with {shaking.words}" if shaking else STATIC
    text = "camera movement with " + join([m.words for m in movements])
    return f"{text}, with {shaking.words}" if shaking else text
