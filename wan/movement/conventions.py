"""What Deforum's camera schedules mean, per animation mode: the one sign table.

Deforum applies every schedule value at every frame, so the schedules are per-frame
*velocities* of the camera (zoom is a per-frame scale factor). The signs below follow from
Deforum's renderer (deforum_helpers/animation.py):

* 2D (`anim_frame_warp_2d`): the canvas is warped with OpenCV. A translation of (+x, +y) moves
  the picture right and down, which is the camera moving left and up. `zoom` > 1 enlarges the
  picture (the camera moves forward). `angle` > 0 turns the picture counter-clockwise (OpenCV's
  convention), which is the camera rolling clockwise.
* 3D (`anim_frame_warp_3d`): the camera gets T = (-x, +y, -z) / 200 and the XYZ Euler rotation of
  (rotation_3d_x, _y, _z) in PyTorch3D (points map as X·R + T). Worked through the projection and
  `grid_sample`, +x moves the picture left (camera right), +y moves it down (camera up), +z brings
  it closer (camera forward); +rotation_3d_x moves it down (camera tilts up), +rotation_3d_y moves
  it left (camera turns right), +rotation_3d_z turns it counter-clockwise (camera rolls clockwise).

| schedule        | mode   | a positive value means        | movement | words                       |
|-----------------|--------|-------------------------------|----------|-----------------------------|
| `translation_x` | 2D     | camera moves **left**         | pan      | panning left / right        |
| `translation_x` | 3D     | camera moves **right**        | pan      | panning right / left        |
| `translation_y` | 2D, 3D | camera moves **up**           | pedestal | moving up / down            |
| `translation_z` | 3D     | camera moves **forward**      | dolly    | dolly forward / backward    |
| `zoom`          | 2D     | above 1: camera moves forward | dolly    | dolly forward / backward    |
| `rotation_3d_x` | 3D     | camera tilts **up**           | tilt     | tilting up / down           |
| `rotation_3d_y` | 3D     | camera turns **right**        | yaw      | rotating right / left       |
| `rotation_3d_z` | 3D     | camera rolls **clockwise**    | roll     | rolling (counter-)clockwise |
| `angle`         | 2D     | camera rolls **clockwise**    | roll     | rolling (counter-)clockwise |

Deforum ignores `zoom` and `angle` in 3D and `translation_z` / `rotation_3d_*` in 2D; so does
the analysis. `transform_center_x/y` move the centre of 2D rotation and zoom, not the camera.

To compare movements of different kinds, each velocity is turned into a *rate per second*:
screen movements (pan, pedestal, tilt, yaw) in frame widths (or heights) per second, dolly in
log-scale per second (0.1 = the picture grows about 10 % per second), roll in degrees per
second. The 3D conversions use Deforum's default field of view (70 degrees) and its flat depth
plane at distance 1: a translation of 200 units moves the camera one depth-plane distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Mode = Literal["2D", "3D", "None"]
Measure = Literal["screen", "dolly", "roll"]

DEFORUM_TRANSLATION_SCALE = 200.0  # 3D: 200 schedule units = one depth-plane distance
DEFORUM_DEFAULT_FOV_DEGREES = 70.0
# Screen shift (in half-widths, NDC) of the depth plane per unit of camera motion at 70 degrees FoV.
FOCAL = 1.0 / math.tan(math.radians(DEFORUM_DEFAULT_FOV_DEGREES) / 2.0)


@dataclass(frozen=True)
class Channel:
    """One camera schedule in one mode: what it moves and how its velocity becomes a rate."""

    schedule: str
    kind: str
    measure: Measure
    positive: str  # the camera direction of a positive value
    negative: str
    verb: str
    sway: str  # how an oscillation along this channel is named
    axis: Literal["horizontal", "vertical", "depth", "roll"]

    def direction(self, sign: float) -> str:
        """The camera direction of a velocity with this sign."""
        return self.positive if sign > 0 else self.negative


def _pan(schedule: str, positive: str, negative: str) -> Channel:
    return Channel(
        schedule, "pan", "screen", positive, negative, "panning", "sway left and right", "horizontal"
    )


def _pedestal(schedule: str) -> Channel:
    return Channel(schedule, "pedestal", "screen", "up", "down", "moving", "bob up and down", "vertical")


def _dolly(schedule: str) -> Channel:
    return Channel(schedule, "dolly", "dolly", "forward", "backward", "dolly", "push in and out", "depth")


def _roll(schedule: str) -> Channel:
    return Channel(
        schedule, "roll", "roll", "clockwise", "counter-clockwise", "rolling", "rock side to side", "roll"
    )


CHANNELS: dict[str, tuple[Channel, ...]] = {
    "2D": (
        _pan("translation_x", "left", "right"),  # 2D moves the canvas: +x is the camera going left
        _pedestal("translation_y"),
        _dolly("zoom"),
        _roll("angle"),
    ),
    "3D": (
        _pan("translation_x", "right", "left"),
        _pedestal("translation_y"),
        _dolly("translation_z"),
        Channel("rotation_3d_x", "tilt", "screen", "up", "down", "tilting", "nod up and down", "vertical"),
        Channel(
            "rotation_3d_y",
            "yaw",
            "screen",
            "right",
            "left",
            "rotating",
            "swing left and right",
            "horizontal",
        ),
        _roll("rotation_3d_z"),
    ),
    "None": (),
}


def channels_for(mode: str) -> tuple[Channel, ...]:
    """The camera channels Deforum applies in `mode` (2D, 3D or None)."""
    try:
        return CHANNELS[mode]
    except KeyError:
        raise ValueError(f"animation mode must be 2D, 3D or None (got {mode!r})") from None


def velocity_to_rate(
    schedule: str, mode: str, values: np.ndarray, *, fps: float, width: int, height: int
) -> np.ndarray:
    """Per-frame schedule values (Deforum units) -> signed rates per second (see module doc).

    The sign is the schedule's own (positive value -> positive rate); Channel.direction names it.
    """
    per_frame: np.ndarray
    if mode == "2D":
        if schedule == "translation_x":
            per_frame = values / width
        elif schedule == "translation_y":
            per_frame = values / height
        elif schedule == "zoom":
            per_frame = np.log(values)
        elif schedule == "angle":
            per_frame = values
        else:
            raise ValueError(f"{schedule} does not move the camera in 2D")
    elif mode == "3D":
        if schedule in ("translation_x", "translation_y"):
            per_frame = values / DEFORUM_TRANSLATION_SCALE * FOCAL / 2.0
        elif schedule == "translation_z":
            per_frame = values / DEFORUM_TRANSLATION_SCALE
        elif schedule in ("rotation_3d_x", "rotation_3d_y"):
            per_frame = np.radians(values) * FOCAL / 2.0
        elif schedule == "rotation_3d_z":
            per_frame = values
        else:
            raise ValueError(f"{schedule} does not move the camera in 3D")
    else:
        raise ValueError(f"the camera does not move in animation mode {mode!r}")
    return per_frame * fps
