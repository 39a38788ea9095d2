"""The output stage of a render: model frames -> output frames at the output fps and the output
size (then upscaled, when asked: wan.post.upscale) -> frames/, the MP4 and the quality report,
in one streaming pass.

With interpolation, each output frame is synthesised at its exact sample time
(wan.post.resample) from the two model frames around it, read from disk as needed: only two
model frames are in memory at a time. Without it, each output frame is the nearest model frame
(hard-linked into frames/). When the model rendered at another size than the output's
(GenerationPlan.resized), each output frame is resized and centre-cropped to exactly the output
size (wan.post.fit) after interpolation. The quality report is measured on the output frames with their
sample times, so frames held on purpose are not counted as duplicates; clip joins are placed
where the new clip takes over in the output (output_joins).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import InterpolationOptions, UpscaleOptions
from ..plan import GenerationPlan
from ..post.encode import write_mp4
from ..post.fit import fit_frame
from ..post.interpolation import build_interpolator, interpolate_frames
from ..post.quality import QualityChecker, QualityReport
from ..post.resample import nearest_model_frames, output_joins, plan_samples
from ..post.upscale import upscaled_stream
from ..post.upscale.refine import RefineSpan, refined_stream
from .run_folder import Take, read_png, write_png
from .stages import StreamClock

Emit = Callable[[str], None]


@dataclass(frozen=True)
class Output:
    """What the output stage wrote and measured."""

    video: Path | None
    frames_dir: Path | None
    interpolation: dict[str, Any]
    quality: QualityReport | None
    upscale: dict[str, Any] | None = None  # what upscaling did (None: not upscaled)


def _link_nearest(folder: Take, frames_dir: Path, sources: np.ndarray) -> None:
    for index, source in enumerate(sources):
        target = frames_dir / f"{index:06d}.png"
        target.unlink(missing_ok=True)
        try:
            os.link(folder.model_frame_path(int(source)), target)
        except OSError:
            shutil.copyfile(folder.model_frame_path(int(source)), target)


def _nearest_frames(folder: Take, sources: np.ndarray) -> Iterator[np.ndarray]:
    cached: tuple[int, np.ndarray] | None = None
    for source in (int(s) for s in sources):
        if cached is None or cached[0] != source:
            cached = (source, read_png(folder.model_frame_path(source)))
        yield cached[1]


def _saved(frames: Iterator[np.ndarray], frames_dir: Path) -> Iterator[np.ndarray]:
    for index, frame in enumerate(frames):
        target = frames_dir / f"{index:06d}.png"
        target.unlink(missing_ok=True)  # it may be a hard link to a model frame from an earlier run
        write_png(target, frame)
        yield frame


def _fitted(frames: Iterator[np.ndarray], plan: GenerationPlan) -> Iterator[np.ndarray]:
    for frame in frames:
        yield fit_frame(frame, plan.width, plan.height)


def _checked(
    frames: Iterator[np.ndarray], checker: QualityChecker, times: list[float]
) -> Iterator[np.ndarray]:
    for index, frame in enumerate(frames):
        checker.add(frame, times[index])
        yield frame


def _source(
    plan: GenerationPlan,
    folder: Take,
    frames_dir: Path | None,
    interpolation: InterpolationOptions | None,
    models_dir: str | None,
    device: str | None,
    emit: Emit,
    clock: StreamClock,
) -> tuple[Iterator[np.ndarray], list[float], dict[str, Any]]:
    """(output frames, their sample times, how they are made), frames/ written as they pass."""
    if interpolation is None or not interpolation.enabled:
        sources = nearest_model_frames(plan.output_frames, plan.output_fps, plan.model_fps)
        nearest = clock.timed(_nearest_frames(folder, sources), "reading")
        if plan.resized:
            nearest = clock.timed(_fitted(nearest, plan), "resizing")
            if frames_dir is not None:
                nearest = clock.timed(_saved(nearest, frames_dir), "frames")
        elif frames_dir is not None:
            with clock.within("frames"):
                _link_nearest(folder, frames_dir, sources)
        return nearest, [float(s) for s in sources], {"enabled": False, "used": "nearest"}
    samples = plan_samples(plan.output_frames, plan.output_fps, plan.model_fps, interpolation.strength)
    with clock.within("interpolation"):
        interpolator, note = build_interpolator(interpolation, models_dir=models_dir, device=device)
    if note:
        emit(note)
    model_frames = (read_png(folder.model_frame_path(i)) for i in range(plan.model_frames))
    frames = interpolate_frames(clock.timed(model_frames, "reading"), samples, interpolator)
    frames = clock.timed(frames, "interpolation")
    if plan.resized:
        frames = clock.timed(_fitted(frames, plan), "resizing")
    if frames_dir is not None:
        frames = clock.timed(_saved(frames, frames_dir), "frames")
    described = interpolation.values() | {"fps": plan.output_fps, "used": interpolator.name, "note": note}
    return frames, [sample.time for sample in samples], described


def write_output(
    plan: GenerationPlan,
    folder: Take,
    *,
    interpolation: InterpolationOptions | None,
    save_frames: bool,
    write_video: bool,
    quality_checks: bool,
    crf: int,
    models_dir: str | None,
    device: str | None,
    emit: Emit,
    clock: StreamClock | None = None,
    upscale: UpscaleOptions | None = None,
    allow_download: bool = False,
) -> Output:
    """The output frames (see the module doc), then the MP4 and the quality report; `clock`
    gets the seconds of each part (reading, interpolation, frames, quality, encoding)."""
    clock = clock or StreamClock("encoding")
    frames_dir = folder.frames_dir if save_frames else None
    if frames_dir is not None:
        frames_dir.mkdir(parents=True, exist_ok=True)
    upscaling = upscale is not None and upscale.enabled
    frames, times, described = _source(
        plan, folder, None if upscaling else frames_dir, interpolation, models_dir, device, emit, clock
    )
    upscaled = None
    if upscaling:
        assert upscale is not None
        with clock.within("upscaling"):
            frames, upscaled = upscaled_stream(frames, upscale, device=device)
        emit(f"upscaling {plan.output_frames} frames x{upscale.scale} with {upscaled['architecture']}")
        frames = clock.timed(frames, "upscaling")
        if upscale.refine_strength > 0:
            emit(f"refining with {upscale.refine_model} at strength {upscale.refine_strength:g}")
            spans = [
                RefineSpan(c.start_frame, c.end_frame, c.prompt, c.negative_prompt, c.seed)
                for c in plan.clips
            ]
            refined = refined_stream(
                frames,
                spans,
                model=upscale.refine_model,
                strength=upscale.refine_strength,
                tile=upscale.refine_tile,
                models_dir=models_dir,
                allow_download=allow_download,
                device=device,
            )
            frames = clock.timed(refined, "refining")
            upscaled |= {"refine_model": upscale.refine_model, "refine_strength": upscale.refine_strength}
        if frames_dir is not None:
            frames = clock.timed(_saved(frames, frames_dir), "frames")
    checker = None
    if quality_checks:
        checker = QualityChecker(output_joins(times, [clip.model_start_frame for clip in plan.clips[1:]]))
        frames = clock.timed(_checked(frames, checker, times), "quality")
    video = None
    if write_video:
        emit(f"encoding {plan.output_frames} frames at {plan.output_fps:g} fps ({described['used']})")
        write_mp4(frames, folder.video_path, fps=plan.output_fps, crf=crf)
        video = folder.video_path
    elif checker is not None or (
        frames_dir is not None
        and (upscaling or plan.resized or (interpolation is not None and interpolation.enabled))
    ):
        for _ in frames:  # the frames (interpolated ones, or for the checks) are made on the way
            pass
    with clock.within("quality"):
        report = checker.report() if checker else None
    return Output(video, frames_dir, described, report, upscaled)
