"""What conditions a clip: nothing (text only), the init image, or the tail of the video so far.

VACE takes a conditioning video and a mask of the clip's exact size: the frames to keep
followed by grey (128) frames, and a mask that is black for kept frames and white for frames to
generate. A separate I2V model takes one image (the previous clip's last frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..post.fit import cover_crop

GREY = 128


def load_init_image(path: str | Path, width: int, height: int) -> np.ndarray:
    """The image as uint8 RGB of exactly width x height: scaled to cover, then centre-cropped."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(cover_crop(image.convert("RGB"), width, height), dtype=np.uint8)


def vace_inputs(kept: list[np.ndarray], num_frames: int) -> tuple[list[Any] | None, list[Any] | None]:
    """VACE's (video, mask) for a clip that keeps `kept` frames at its start; (None, None) for
    text only (the pipeline's own default is the same grey video with an all-white mask)."""
    if not kept:
        return None, None
    from PIL import Image

    height, width = kept[0].shape[:2]
    grey = Image.new("RGB", (width, height), (GREY, GREY, GREY))
    keep, generate = Image.new("L", (width, height), 0), Image.new("L", (width, height), 255)
    video = [Image.fromarray(frame) for frame in kept] + [grey] * (num_frames - len(kept))
    mask = [keep] * len(kept) + [generate] * (num_frames - len(kept))
    return video, mask


def as_image(frame: np.ndarray) -> Any:
    """A uint8 RGB frame as a PIL image (what the I2V pipeline takes)."""
    from PIL import Image

    return Image.fromarray(frame)
