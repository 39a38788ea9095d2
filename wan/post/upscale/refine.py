"""The optional Wan refine pass after upscaling: diffusers' WanVideoToVideoPipeline at the larger
size and a low strength (upscale_refine_strength, e.g. 0.2-0.35), so a text-to-video Wan model
redraws fine detail the image upscaler could only guess, while the upscaled frames keep the layout.

- Frames are refined in windows of at most REFINE_WINDOW output frames inside one clip (each
  window with that clip's prompt, negative prompt and seed); a window shorter than 4n+1 frames is
  padded with its last frame, and the padding dropped after. Only one window of upscaled frames is
  held: memory is bounded by the window, not the video.
- Sizes: the pipeline takes sides that are multiples of 16; other sizes are resized to the nearest
  such size and back.
- Tiled where memory needs (upscale_refine_tile > 0): each window is cut into overlapping tiles
  of that side (a multiple of 16), each tile refined as a video of its own, the results blended
  with linear ramps across the 32-pixel overlaps.
- On CUDA the pipeline runs with model CPU offload and a tiled VAE.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .model import UpscaleError
from .tiles import blend_ramp, tile_starts

REFINE_WINDOW = 33  # output frames refined together (4n+1)
REFINE_STEPS = 20  # denoising steps of the full schedule; strength runs the last share of them
REFINE_GUIDANCE = 5.0
SIDE_MULTIPLE = 16
TILE_OVERLAP = 32


@dataclass(frozen=True)
class RefineSpan:
    """Output frames [start, end) of one clip, with what its frames were made from."""

    start: int
    end: int
    prompt: str
    negative_prompt: str
    seed: int


def load_refiner(model: str, *, models_dir: str | None, allow_download: bool, device: Any) -> Any:
    """WanVideoToVideoPipeline of a text-to-video Wan model (upscale_refine_model), on `device`."""
    import diffusers
    import torch

    from ...models.loading import default_dtype
    from ...models.resolve import ModelNotFoundError, resolve_model

    try:
        location = resolve_model(
            model, models_dir=Path(models_dir) if models_dir else None, allow_download=allow_download
        )
    except ModelNotFoundError as exc:
        raise UpscaleError(f"upscale_refine_model: {exc}") from None
    if location.spec.kind != "t2v":
        raise UpscaleError(
            f"upscale_refine_model: {model} is a {location.spec.kind} model; the refine pass needs a "
            "text-to-video model (t2v-1.3b, t2v-14b)"
        )
    device = torch.device(device)
    pipe = diffusers.WanVideoToVideoPipeline.from_pretrained(location.path, torch_dtype=default_dtype(device))
    pipe.set_progress_bar_config(disable=True)
    if device.type == "cuda":
        pipe.enable_model_cpu_offload(device=device)
        pipe.vae.enable_tiling()
    else:
        pipe.to(device)
    return pipe


def _padded_length(count: int) -> int:
    return count if count % 4 == 1 else count + (4 - (count - 1) % 4) % 4


def _side(value: int) -> int:
    return max(SIDE_MULTIPLE, round(value / SIDE_MULTIPLE) * SIDE_MULTIPLE)


def refine_window(
    pipe: Any, frames: Sequence[np.ndarray], span: RefineSpan, *, strength: float, tile: int = 0
) -> list[np.ndarray]:
    """One window of uint8 RGB frames refined at `strength` (see the module doc); the same count
    and size come back."""
    import torch
    from PIL import Image

    count = len(frames)
    height, width = frames[0].shape[:2]
    side_h, side_w = _side(height), _side(width)
    resized = (side_h, side_w) != (height, width)
    padded = [cv2.resize(f, (side_w, side_h), interpolation=cv2.INTER_AREA) if resized else f for f in frames]
    padded += [padded[-1]] * (_padded_length(count) - count)
    tile_side = _side(tile) if tile else 0
    tops = tile_starts(side_h, tile_side, TILE_OVERLAP, SIDE_MULTIPLE) if tile_side else [0]
    lefts = tile_starts(side_w, tile_side, TILE_OVERLAP, SIDE_MULTIPLE) if tile_side else [0]
    tile_h = min(tile_side or side_h, side_h)
    tile_w = min(tile_side or side_w, side_w)
    output = np.zeros((len(padded), side_h, side_w, 3), np.float32)
    weights = np.zeros((side_h, side_w, 1), np.float32)
    for top in tops:
        for left in lefts:
            video = [Image.fromarray(f[top : top + tile_h, left : left + tile_w]) for f in padded]
            result = pipe(
                video=video,
                prompt=span.prompt,
                negative_prompt=span.negative_prompt,
                height=tile_h,
                width=tile_w,
                num_inference_steps=REFINE_STEPS,
                guidance_scale=REFINE_GUIDANCE,
                strength=strength,
                generator=torch.Generator(device="cpu").manual_seed(span.seed),
                output_type="np",
            ).frames[0]
            rows = blend_ramp(tile_h, top, side_h, TILE_OVERLAP)
            ramp = rows[:, None, None] * blend_ramp(tile_w, left, side_w, TILE_OVERLAP)[None, :, None]
            output[:, top : top + tile_h, left : left + tile_w] += np.asarray(result, np.float32) * ramp
            weights[top : top + tile_h, left : left + tile_w] += ramp
    refined = np.clip(np.rint(output / weights * 255.0), 0, 255).astype(np.uint8)[:count]
    if resized:
        return [cv2.resize(f, (width, height), interpolation=cv2.INTER_LANCZOS4) for f in refined]
    return list(refined)


def refine_frames(
    frames: Iterable[np.ndarray],
    pipe: Any,
    spans: Sequence[RefineSpan],
    *,
    strength: float,
    tile: int = 0,
    window: int = REFINE_WINDOW,
) -> Iterator[np.ndarray]:
    """The output frames refined window by window (each window inside one clip's span); frames
    outside every span pass unchanged."""
    spans = sorted(spans, key=lambda span: span.start)
    buffer: list[np.ndarray] = []
    current: RefineSpan | None = None

    def flush() -> list[np.ndarray]:
        done = refine_window(pipe, buffer, current, strength=strength, tile=tile) if current else list(buffer)
        buffer.clear()
        return done

    for index, frame in enumerate(frames):
        span = next((s for s in spans if s.start <= index < s.end), None)
        if buffer and (span is not current or len(buffer) == window):
            yield from flush()
        current = span
        buffer.append(frame)
    if buffer:
        yield from flush()


def refined_stream(
    frames: Iterable[np.ndarray],
    spans: Sequence[RefineSpan],
    *,
    model: str,
    strength: float,
    tile: int,
    models_dir: str | None,
    allow_download: bool,
    device: Any,
) -> Iterator[np.ndarray]:
    """refine_frames with the pipeline loaded here and released when the stream ends."""
    from ...models.loading import default_device, free_memory

    pipe = load_refiner(
        model, models_dir=models_dir, allow_download=allow_download, device=device or default_device()
    )
    try:
        yield from refine_frames(frames, pipe, spans, strength=strength, tile=tile)
    finally:
        del pipe
        free_memory(reset_peak=False)
