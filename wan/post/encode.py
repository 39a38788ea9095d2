"""MP4 encoding with imageio-ffmpeg (H.264, yuv420p, constant rate factor)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def write_mp4(frames: Iterable[np.ndarray], path: str | Path, *, fps: float, crf: int = 17) -> int:
    """Encode uint8 RGB frames (H x W x 3, sides multiples of 2) to an MP4; returns the count."""
    import imageio_ffmpeg

    writer = None
    count = 0
    try:
        for frame in frames:
            if writer is None:
                height, width = frame.shape[:2]
                writer = imageio_ffmpeg.write_frames(
                    str(path),
                    (width, height),
                    fps=fps,
                    codec="libx264",
                    pix_fmt_out="yuv420p",
                    quality=None,
                    macro_block_size=1,
                    output_params=["-crf", str(crf), "-preset", "medium", "-movflags", "+faststart"],
                )
                writer.send(None)
            writer.send(np.ascontiguousarray(frame, dtype=np.uint8))
            count += 1
    finally:
        if writer is not None:
            writer.close()
    return count


def count_frames(path: str | Path) -> int:
    """Number of frames of a video file, by decoding it."""
    import imageio_ffmpeg

    frames, _seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    return frames
