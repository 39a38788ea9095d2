"""Camera Shakify shakes as Deforum users know them, turned into schedule velocities.

A preset is a looped recording of a hand-held camera's pose offset at 24 fps (location in
metres, rotation in radians; the 2D presets hold rotation only). As in the Deforum Forge fork,
`intensity` (0-3) scales the offsets and `speed` (0-3) plays the recording faster (2 = twice as
fast, 0 = frozen). The recording is resampled to the animation's fps with a looped Catmull-Rom
cubic (smooth, passes through every recorded sample), and each frame's *change* of pose is added
to the schedules, which are per-frame velocities.

Scale (documented, chosen to match Deforum's 3D camera): the scene's depth plane is 1 m away.

* 3D: 1 m of camera travel = 200 translation units (Deforum's TRANSLATION_SCALE); rotations are
  converted from radians to degrees. Location x/y/z -> translation_x/y/z, rotation x/y/z ->
  rotation_3d_x/y/z (the Forge fork's mapping).
* 2D: the same camera motion expressed on the canvas: sideways travel and turning -> translation_x
  (pixels; camera right is negative in 2D), vertical travel and tilting -> translation_y, travel
  towards the scene -> zoom (a per-frame factor), roll -> angle (degrees). Metres and radians
  become screen fractions through Deforum's default 70 degree field of view.
"""

from __future__ import annotations

import numpy as np

from ..catalog.shakify import shake_recordings
from .conventions import DEFORUM_TRANSLATION_SCALE, FOCAL

SOURCE_KEYS = (
    "location.0",
    "location.1",
    "location.2",
    "rotation_euler.0",
    "rotation_euler.1",
    "rotation_euler.2",
)


def looped_catmull_rom(samples: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Values of the looped Catmull-Rom cubic through `samples` at fractional sample positions."""
    count = len(samples)
    base = np.floor(positions).astype(np.int64)
    t = positions - base
    p0, p1, p2, p3 = (samples[(base + k) % count] for k in (-1, 0, 1, 2))
    return 0.5 * (
        2.0 * p1
        + (p2 - p0) * t
        + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * t**2
        + (3.0 * (p1 - p2) + p3 - p0) * t**3
    )


def shake_pose(name: str, intensity: float, speed: float, times: np.ndarray) -> dict[str, np.ndarray]:
    """Pose offsets (metres, radians) of a preset at `times` (seconds), per Shakify curve."""
    preset = shake_recordings()[name]
    source_fps = float(preset["fps"])
    poses = {}
    for key in SOURCE_KEYS:
        points = preset["curves"].get(key)
        if points is None:
            poses[key] = np.zeros_like(times, dtype=np.float64)
            continue
        samples = np.asarray([value for _, value in points], dtype=np.float64)
        poses[key] = intensity * looped_catmull_rom(samples, times * source_fps * speed)
    return poses


def shake_velocities(
    name: str,
    intensity: float,
    speed: float,
    *,
    frames: int,
    fps: float,
    mode: str,
    width: int,
    height: int,
) -> dict[str, np.ndarray]:
    """What the shake adds to each schedule at each frame, in Deforum's units for `mode`."""
    if name == "None" or mode == "None" or intensity == 0 or speed == 0:
        return {}
    times = np.arange(-1, frames, dtype=np.float64) / fps
    delta = {key: np.diff(values) for key, values in shake_pose(name, intensity, speed, times).items()}
    loc_x, loc_y, loc_z = delta["location.0"], delta["location.1"], delta["location.2"]
    rot_x, rot_y, rot_z = delta["rotation_euler.0"], delta["rotation_euler.1"], delta["rotation_euler.2"]
    if mode == "3D":
        return {
            "translation_x": loc_x * DEFORUM_TRANSLATION_SCALE,
            "translation_y": loc_y * DEFORUM_TRANSLATION_SCALE,
            "translation_z": loc_z * DEFORUM_TRANSLATION_SCALE,
            "rotation_3d_x": np.degrees(rot_x),
            "rotation_3d_y": np.degrees(rot_y),
            "rotation_3d_z": np.degrees(rot_z),
        }
    # 2D: screen fractions of the 3D motion (half-widths per metre or radian at the default FoV)
    sideways = (loc_x + rot_y) * FOCAL / 2.0
    upwards = (loc_y + rot_x) * FOCAL / 2.0
    return {
        "translation_x": -sideways * width,
        "translation_y": upwards * height,
        "zoom": np.exp(loc_z),
        "angle": np.degrees(rot_z),
    }
