"""Which frame size a model renders a requested output size at (pure).

A Wan model takes frame sides that are multiples of its size multiple (16 for Wan 2.1: the VAE
compresses 8x and the transformer takes 2x2 patches). A requested size that already is such a
size is rendered as it is. Any other size is rendered at the size of multiples with the closest
aspect ratio whose area is near the model's trained area (the trained size nearest in area to the
request, e.g. 832x480 for a 480p model, 128x80 for the tiny test models), and the
output stage resizes (Lanczos) and centre-crops the frames to exactly the requested size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .models import ModelSpec

# how much an area error weighs against an aspect error (both as log ratios): the aspect wins
AREA_WEIGHT = 0.25


@dataclass(frozen=True)
class RenderSize:
    """The size a model renders at for an output size, and why, when the two differ."""

    width: int
    height: int
    reason: str = ""


def _trained_area(width: int, height: int, spec: ModelSpec) -> tuple[int, str]:
    """(target area, the words for it) for a model and a requested size."""
    if not spec.sizes:
        return width * height, "the requested area"
    asked = math.log(width * height)
    w, h = min(spec.sizes, key=lambda size: abs(math.log(size[0] * size[1]) - asked))
    return w * h, f"its trained area ({w}x{h})"


def render_size(width: int, height: int, spec: ModelSpec) -> RenderSize:
    """The size `spec` renders a width x height output at (see the module doc)."""
    step = spec.size_multiple
    if width % step == 0 and height % step == 0:
        return RenderSize(width, height)
    area, words = _trained_area(width, height, spec)
    aspect = width / height
    ideal_w, ideal_h = math.sqrt(area * aspect), math.sqrt(area / aspect)
    sides_w = {max(step, step * (round(ideal_w / step) + k)) for k in (-2, -1, 0, 1, 2)}
    sides_h = {max(step, step * (round(ideal_h / step) + k)) for k in (-2, -1, 0, 1, 2)}

    def error(size: tuple[int, int]) -> tuple[float, int, int]:
        w, h = size
        miss = abs(math.log(w / h / aspect)) + AREA_WEIGHT * abs(math.log(w * h / area))
        return (round(miss, 12), -w, -h)  # ties: the larger size

    w, h = min(((w, h) for w in sides_w for h in sides_h), key=error)
    reason = (
        f"{width}x{height} is not a multiple of {step} on both sides, which {spec.id} needs: rendered at "
        f"{w}x{h}, the nearest aspect it takes near {words}, then resized and centre-cropped to "
        f"{width}x{height}"
    )
    return RenderSize(w, h, reason)
