"""Interpolating and checking video files: what `python -m wan interpolate` and `check` do, for
any video, not only ours. Both stream: frames are decoded, processed and encoded one by one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config.interpolation import InterpolationOptions
from .encode import write_mp4
from .interpolation import build_interpolator, interpolate_frames
from .quality import QualityChecker, QualityReport
from .resample import output_samples
from .video import VideoInfo, open_video


@dataclass(frozen=True)
class InterpolatedVideo:
    """What `interpolate_video` wrote."""

    source: VideoInfo
    path: Path
    input_frames: int
    output_frames: int
    method: str
    note: str


def _counted(frames: Iterator[np.ndarray], counter: list[int]) -> Iterator[np.ndarray]:
    for frame in frames:
        counter[0] += 1
        yield frame


def interpolate_video(
    source: str | Path,
    target: str | Path,
    options: InterpolationOptions,
    fps: float,
    *,
    crf: int = 17,
    models_dir: str | Path | None = None,
    device: str | None = None,
    on_note: Callable[[str], None] | None = None,
) -> InterpolatedVideo:
    """Write `source` at `fps` to the MP4 `target`. Output frames: floor((N - 1) * fps / source
    fps) + 1 for N source frames (wan.post.resample); disabled = strength 0 (held frames)."""
    info, frames = open_video(source)
    interpolator, note = build_interpolator(options, models_dir=models_dir, device=device)
    if note and on_note is not None:
        on_note(note)
    strength = options.strength if options.enabled else 0.0
    read = [0]
    samples = output_samples(fps, info.fps, strength)
    written = write_mp4(
        interpolate_frames(_counted(frames, read), samples, interpolator), target, fps=fps, crf=crf
    )
    return InterpolatedVideo(info, Path(target), read[0], written, interpolator.name, note)


def check_video(path: str | Path, joins: tuple[int, ...] = ()) -> tuple[VideoInfo, QualityReport]:
    """The quality report of a video file; `joins`: frames where a new clip starts."""
    info, frames = open_video(path)
    return info, QualityChecker(joins).add_all(frames).report()
