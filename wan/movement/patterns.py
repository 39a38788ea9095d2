"""Movements made of several channels at once: orbits, spirals and figure-eights.

* orbit: the camera travels sideways while turning the other way (keeps facing a subject);
* spiral: roll together with a dolly;
* figure-eight: lateral and vertical oscillation, one twice as fast as the other.
Each needs its parts to move together for most of the time (OVERLAP_SHARE), so a brief pan
next to a sustained turn stays two movements.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import describe
from .result import Movement
from .tracks import COHERENT_SHARE, Track, duration_word, intensity_word

# Two movements form one pattern when they are active together for at least this share of the
# frames where either is active.
OVERLAP_SHARE = 0.6
# A figure-eight's slow axis takes twice as long per cycle as its fast one, within 15 %.
FIGURE_EIGHT_RATIO = (1.7, 2.3)

ORBIT_PARTS = ("translation_x", "rotation_3d_y")
SPIRAL_PARTS = (("translation_z", "rotation_3d_z"), ("zoom", "angle"))
FIGURE_EIGHT_PARTS = (("translation_x", "translation_y"), ("rotation_3d_y", "rotation_3d_x"))


def is_directional(track: Track) -> bool:
    """Moves mostly one way, fast enough to be named."""
    return track.coherence >= COHERENT_SHARE and track.level_of(track.directional_mask()) is not None


def is_oscillating(track: Track) -> bool:
    """Goes back and forth at least once a cycle and a half (two reversals), fast enough to name."""
    return (
        track.coherence < COHERENT_SHARE
        and len(track.turns) >= 2
        and track.level_of(track.active) is not None
    )


def _together(first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """(overlap share of the union, union share of the window)."""
    union = first | second
    if not union.any():
        return 0.0, 0.0
    return float((first & second).sum() / union.sum()), float(union.mean())


def _combined(parts: list[tuple[Track, np.ndarray]]) -> tuple[float, float, float] | None:
    """(level, share, strength) of movements that go together, or None if they do not."""
    overlap, share = _together(parts[0][1], parts[1][1])
    if overlap < OVERLAP_SHARE:
        return None
    levels = [track.level_of(mask) for track, mask in parts]
    level = max(level for level in levels if level is not None)
    return level, share, level * share


def orbit(tracks: Mapping[str, Track]) -> Movement | None:
    """Sideways travel with an opposite turn: 'slow orbit to the right'."""
    travel, turn = (tracks.get(name) for name in ORBIT_PARTS)
    if travel is None or turn is None or not (is_directional(travel) and is_directional(turn)):
        return None
    direction = travel.channel.direction(travel.dominant_sign)
    if turn.channel.direction(turn.dominant_sign) == direction:
        return None  # turning the same way is a pan with a turn, not an orbit
    found = _combined([(travel, travel.directional_mask()), (turn, turn.directional_mask())])
    if found is None:
        return None
    level, share, strength = found
    intensity = intensity_word(level)
    return Movement(
        "orbit",
        direction,
        intensity,
        duration_word(share),
        describe.orbit(intensity, direction),
        strength,
        ORBIT_PARTS,
    )


def spiral(tracks: Mapping[str, Track]) -> Movement | None:
    """Roll with a dolly: 'slow clockwise spiral forward'."""
    for parts in SPIRAL_PARTS:
        travel, roll = (tracks.get(name) for name in parts)
        if travel is None or roll is None or not (is_directional(travel) and is_directional(roll)):
            continue
        found = _combined([(travel, travel.directional_mask()), (roll, roll.directional_mask())])
        if found is None:
            continue
        level, share, strength = found
        intensity = intensity_word(level)
        turn = roll.channel.direction(roll.dominant_sign)
        forward = travel.channel.direction(travel.dominant_sign)
        return Movement(
            "spiral",
            f"{turn} {forward}",
            intensity,
            duration_word(share),
            describe.spiral(intensity, turn, forward),
            strength,
            parts,
        )
    return None


def figure_eight(tracks: Mapping[str, Track]) -> Movement | None:
    """Lateral and vertical oscillation at 1:2: 'slow horizontal figure-eight (period 4.0 s)'."""
    for parts in FIGURE_EIGHT_PARTS:
        across, up = (tracks.get(name) for name in parts)
        if across is None or up is None or not (is_oscillating(across) and is_oscillating(up)):
            continue
        across_period, up_period = across.period_seconds, up.period_seconds
        if not across_period or not up_period:
            continue
        low, high = FIGURE_EIGHT_RATIO
        if low <= across_period / up_period <= high:
            orientation, slow_period = "horizontal", across_period
        elif low <= up_period / across_period <= high:
            orientation, slow_period = "vertical", up_period
        else:
            continue
        found = _combined([(across, across.active), (up, up.active)])
        if found is None:
            continue
        level, share, strength = found
        intensity = intensity_word(level)
        return Movement(
            "figure_eight",
            orientation,
            intensity,
            duration_word(share),
            describe.figure_eight(intensity, orientation, slow_period),
            strength,
            parts,
            slow_period,
        )
    return None


PATTERNS = (orbit, spiral, figure_eight)
