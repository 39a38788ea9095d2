"""Reading any video file frame by frame (imageio-ffmpeg), without holding it in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import WanError


class VideoReadError(WanError, ValueError):
    """A file that is missing or that ffmpeg cannot read as a video."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video: frame rate and frame size."""

    path: Path
    fps: float
    width: int
    height: int


def open_video(path: str | Path) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    """The video's info and its frames as uint8 RGB (H, W, 3), decoded one at a time."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"'{path}': no such file")
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration):
        reader.close()
        raise VideoReadError(f"'{path}' is not a video that ffmpeg can read") from None
    width, height = meta["size"]
    fps = float(meta.get("fps") or 0.0)
    if fps <= 0:
        reader.close()
        raise VideoReadError(f"'{path}' has no frame rate (is it a still image?)")

    def frames() -> Iterator[np.ndarray]:
        try:
            for raw in reader:
                yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
        finally:
            reader.close()

    return VideoInfo(path, fps, int(width), int(height)), frames()
