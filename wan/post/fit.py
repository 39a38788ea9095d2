"""Frames to exactly a requested size: scaled (Lanczos) to cover it, then centre-cropped.

Used for the output frames when the model renders at another size than the one asked for
(wan.catalog.sizes), and for the init image at the size the model renders at. The scale keeps the
aspect ratio, so nothing is stretched; what sticks out of the requested size (at most a few pixels
for a rendered frame, whose aspect is the nearest the model takes) is cut evenly from both sides.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def cover_crop(image: Any, width: int, height: int) -> Any:
    """A PIL image scaled to cover width x height (Lanczos), then centre-cropped to exactly it."""
    from PIL import Image

    if image.size == (width, height):
        return image
    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    scaled = image.resize(size, Image.Resampling.LANCZOS)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return scaled.crop((left, top, left + width, top + height))


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """A uint8 RGB frame (H, W, 3) at exactly width x height (see the module doc)."""
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    from PIL import Image

    return np.asarray(cover_crop(Image.fromarray(frame), width, height), dtype=np.uint8)
