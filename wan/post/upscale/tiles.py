"""Cutting a frame into overlapping tiles and the weights that blend the tiles' results back:
shared by the upscaler (input tiles) and the refine pass (output tiles)."""

from __future__ import annotations

import numpy as np


def tile_starts(length: int, tile: int, overlap: int, min_step: int = 1) -> list[int]:
    """Starts of tiles of side `tile` covering [0, length), neighbours overlapping by at least
    `overlap` (the last tile ends at `length`)."""
    if length <= tile:
        return [0]
    step = max(tile - overlap, min_step)
    return sorted({*range(0, length - tile, step), length - tile})


def blend_ramp(length: int, start: int, full: int, overlap: int, margin: int = 0) -> np.ndarray:
    """Blend weights along one side of a tile [start, start + length) of [0, full): rising over
    `overlap` on a side that has a neighbour, the first `margin` of them zero (pixels a network
    computed against its zero padding)."""
    weight = np.ones(length, np.float32)
    ramp = min(overlap, length)
    margin = min(margin, ramp - 1)
    rising = np.concatenate(
        [
            np.zeros(margin, np.float32),
            np.linspace(1.0 / (ramp - margin + 1), 1.0, ramp - margin, dtype=np.float32),
        ]
    )
    if start > 0:
        weight[:ramp] = rising
    if start + length < full:
        weight[-ramp:] = np.minimum(weight[-ramp:], rising[::-1])
    return weight
