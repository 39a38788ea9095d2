"""Upscaling a stream of frames and whole video files, with bounded memory: frames are read,
upscaled a batch at a time (`batch` frames), stabilised and written one by one, so at most one
batch of source frames and its upscaled frames are held, whatever the video's length."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...config.upscale import UpscaleOptions
from ..encode import write_mp4
from ..video import VideoInfo, open_video
from .model import Upscaler, load_upscaler, resize_to
from .temporal import TemporalStabilizer


def _batches(frames: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    for frame in frames:
        if batch and frame.shape != batch[0].shape:  # a size change ends the batch
            yield batch
            batch = []
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def upscale_frames(
    frames: Iterable[np.ndarray],
    upscaler: Upscaler,
    *,
    scale: int,
    batch: int = 4,
    temporal: float = 0.0,
) -> Iterator[np.ndarray]:
    """Each uint8 RGB frame upscaled to exactly `scale` times its size (the model's own factor,
    then resized when it differs), stabilised over time with strength `temporal`."""
    stabilizer = TemporalStabilizer(temporal)
    for group in _batches(frames, batch):
        height, width = group[0].shape[:2]
        upscaled = upscaler.run(np.stack(group))
        for source, frame in zip(group, upscaled, strict=True):
            sized = resize_to(frame, width * scale, height * scale)
            yield stabilizer.add(source, sized)


@dataclass(frozen=True)
class UpscaledVideo:
    """What upscale_video wrote."""

    source: VideoInfo
    path: Path
    frames: int
    width: int
    height: int
    model: str
    model_scale: int


def upscale_video(
    source: str | Path,
    target: str | Path,
    upscaler: Upscaler,
    *,
    scale: int,
    batch: int = 4,
    temporal: float = 0.5,
    crf: int = 17,
    on_frame: Callable[[int], None] | None = None,
) -> UpscaledVideo:
    """Upscale the video file `source` into the MP4 `target` at the same frame rate."""
    info, frames = open_video(source)
    count = [0]

    def counted() -> Iterator[np.ndarray]:
        for frame in upscale_frames(frames, upscaler, scale=scale, batch=batch, temporal=temporal):
            count[0] += 1
            if on_frame is not None:
                on_frame(count[0])
            yield frame

    write_mp4(counted(), target, fps=info.fps, crf=crf)
    width, height = info.width * scale, info.height * scale
    return UpscaledVideo(info, Path(target), count[0], width, height, upscaler.name, upscaler.scale)


def upscaled_stream(
    frames: Iterable[np.ndarray], options: UpscaleOptions, *, device: str | None = None
) -> tuple[Iterator[np.ndarray], dict[str, Any]]:
    """(the frames upscaled as `options` say, what was done): the model loads now and is released
    when the stream ends (or is closed)."""
    upscaler = load_upscaler(options.model, device=device, tile=options.tile)
    described = {
        "model": options.model,
        "architecture": upscaler.name,
        "model_scale": upscaler.scale,
        "scale": options.scale,
        "batch": options.batch,
        "tile": options.tile,
        "temporal": options.temporal,
        "device": str(upscaler.device),
    }

    def stream() -> Iterator[np.ndarray]:
        try:
            yield from upscale_frames(
                frames, upscaler, scale=options.scale, batch=options.batch, temporal=options.temporal
            )
        finally:
            upscaler.release()

    return stream(), described
