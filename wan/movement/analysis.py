"""Camera motion of a window of frames, in words.

For each channel of the animation mode, the smooth rates inside the window (CameraPath) give a
Track. Patterns made of several channels (orbit, spiral, figure-eight) are found first; each
remaining channel is then a directional movement (pan, dolly, ...), a pendulum or zig-zag when it
swings back and forth, or a single sway. Movements are ordered by strength — intensity level
times the share of the window in which they are active, so a brief burst ranks below a
sustained drift of similar speed — and the first `max_phrases` are named. The shake is
described on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import describe
from .camera import CameraPath
from .conventions import Channel
from .patterns import PATTERNS, is_oscillating
from .result import Movement, MovementAnalysis
from .tracks import COHERENT_SHARE, TURN_FRACTION, Track, duration_word, intensity_level, intensity_word

# Peak over RMS below this: the rate is nearly constant between reversals (zig-zag); a sine
# (pendulum) has 1.41.
ZIGZAG_CREST = 1.2
# Shake is named from the median speed of the jitter (robust to the brief residue a sudden start
# or reversal leaves after the low-pass) weighted by SHAKE_WEIGHT, with the movement thresholds:
# jitter is noticed at about half the speed of a drift because it reverses several times a
# second. Calibrated on the Camera Shakify presets at intensity 1, 3D and 2D at 24 fps: THE
# CLOSEUP, THE WEDDING and THE ZEEK come out subtle; INVESTIGATION, WALK TO THE STORE, OUT CAR
# WINDOW and SPACESHIP gentle; HANDYCAM RUN moderate; BIKE ON GRAVEL strong.
SHAKE_WEIGHT = 2.0
# Jitter a schedule adds above the low-pass counts as shake only when it reverses at least this
# often; a zig-zag's sharp corners leave slower residue (about one reversal per corner).
JITTER_HZ = 2.0
# Shake pace from its dominant frequency: below 1.5 Hz slow, above 5 Hz rapid.
SLOW_SHAKE_HZ = 1.5
RAPID_SHAKE_HZ = 5.0


def _single(track: Track) -> Movement | None:
    channel = track.channel
    if track.coherence >= COHERENT_SHARE:
        mask = track.directional_mask()
        level = track.level_of(mask)
        if level is not None:
            share = float(mask.mean())
            direction = channel.direction(track.dominant_sign)
            intensity, duration = intensity_word(level), duration_word(share)
            words = describe.directional(intensity, channel.verb, direction, duration)
            return Movement(
                channel.kind, direction, intensity, duration, words, level * share, (channel.schedule,)
            )
    level = track.level_of(track.active)
    if level is None:
        return None
    share = float(track.active.mean())
    intensity, duration = intensity_word(level), duration_word(share)
    span = channel.sway.split(" ", 1)[1]
    seconds = track.period_seconds
    if is_oscillating(track) and seconds is not None:
        if track.crest_factor < ZIGZAG_CREST:
            kind, words = "zigzag", describe.zigzag(intensity, channel.sway, seconds)
        else:
            kind, words = "pendulum", describe.pendulum(intensity, channel.sway, seconds)
        return Movement(kind, span, intensity, duration, words, level * share, (channel.schedule,), seconds)
    words = describe.sway(intensity, channel.sway, duration)
    return Movement("sway", span, intensity, duration, words, level * share, (channel.schedule,))


def _reversal_hertz(rates: np.ndarray, fps: float) -> float:
    """How often a signal changes direction, as a frequency (two reversals per cycle)."""
    if not len(rates):
        return 0.0
    peak = float(np.abs(rates).max())
    moving = rates[np.abs(rates) >= TURN_FRACTION * peak] if peak > 0 else rates[:0]
    reversals = np.count_nonzero(np.diff(np.sign(moving)))
    return reversals / 2.0 / (len(rates) / fps)


def _shake(path: CameraPath, start: int, end: int, sensitivity: float) -> Movement | None:
    best: tuple[float, Channel, np.ndarray] | None = None
    for channel in path.channels:
        jitter = path.jitter[channel.schedule][start:end]
        if _reversal_hertz(jitter, path.fps) < JITTER_HZ:
            jitter = np.zeros_like(jitter)  # the residue of a sudden start or reversal, not shake
        rates = path.shakify_rates[channel.schedule][start:end] + jitter
        if not len(rates):
            continue
        speed = float(np.median(np.abs(rates))) * SHAKE_WEIGHT * sensitivity
        level = intensity_level(speed, channel.measure)
        if level is not None and (best is None or level > best[0]):
            best = (level, channel, rates)
    if best is None:
        return None
    level, channel, rates = best
    hertz = _reversal_hertz(rates, path.fps)
    pace = "slow" if hertz < SLOW_SHAKE_HZ else "rapid" if hertz > RAPID_SHAKE_HZ else ""
    intensity = intensity_word(level)
    return Movement(
        "shake",
        "",
        intensity,
        "sustained",
        describe.shake(intensity, pace),
        level,
        tuple(c.schedule for c in path.channels),
    )


def analyze_window(
    path: CameraPath, start: int, end: int, *, sensitivity: float = 1.0, max_phrases: int = 2
) -> MovementAnalysis:
    """Describe the camera motion of output frames [start, end) of `path`."""
    if not 0 <= start < end <= path.frames:
        raise ValueError(f"window {start}-{end} is not inside frames 0-{path.frames}")
    tracks = {
        c.schedule: Track(c, path.smooth[c.schedule][start:end], path.fps, sensitivity) for c in path.channels
    }
    movements: list[Movement] = []
    for pattern in PATTERNS:
        found = pattern(tracks)
        if found is not None:
            movements.append(found)
            for schedule in found.schedules:
                tracks.pop(schedule, None)
    movements += [m for m in map(_single, tracks.values()) if m is not None]
    movements.sort(key=lambda m: -m.strength)
    shaking = _shake(path, start, end, sensitivity)
    named = movements[:max_phrases]
    return MovementAnalysis(
        start, end, describe.describe(named, shaking), tuple(movements), shaking, len(named)
    )


def analyze_windows(
    path: CameraPath, windows: Sequence[tuple[int, int]], *, sensitivity: float = 1.0, max_phrases: int = 2
) -> list[MovementAnalysis]:
    """Describe the camera motion of several windows [start, end) of output frames of `path`."""
    return [
        analyze_window(path, start, end, sensitivity=sensitivity, max_phrases=max_phrases)
        for start, end in windows
    ]
