"""Upscaling on the GPU: frames/s and peak memory of image upscalers at their real sizes (random
weights, loaded from a state dict through spandrel as users' files are), with and without temporal
stabilisation, at 832x480 -> x2/x4 and to 4K, tiled; and the Wan refine pass at 2x 480p."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from . import Context, check

# the architectures of the upscalers people use for video: RealESRGAN_x4plus (RRDBNet, 64
# features, 23 blocks) and realesr-animevideov3 (SRVGGNetCompact, 64 features, 16 convolutions)
ARCHITECTURES = {
    "RealESRGAN_x4plus (RRDB 64x23)": ("esrgan", {"num_filters": 64, "num_blocks": 23, "scale": 4}),
    "realesr-animevideov3 (Compact 64x16)": ("compact", {"num_feat": 64, "num_conv": 16, "upscale": 4}),
}
TINY_ARCHITECTURES = {
    "RRDB 8x1 (dry run)": ("esrgan", {"num_filters": 8, "num_blocks": 1, "scale": 4}),
    "Compact 8x2 (dry run)": ("compact", {"num_feat": 8, "num_conv": 2, "upscale": 4}),
}


def _write(folder: Path, kind: str, sizes: dict[str, Any]) -> Path:
    import torch
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    model = ESRGAN(**sizes) if kind == "esrgan" else Compact(**sizes)
    path = folder / f"{kind}.pth"
    torch.save({key: value.contiguous() for key, value in model.state_dict().items()}, path)
    return path


def _frames(count: int, height: int, width: int) -> list[Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def _peak_gib(device: Any) -> str:
    import torch

    if device.type != "cuda":
        return "-"
    return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f}"


def _rate(
    path: Path, device: Any, frames: list[Any], *, scale: int, tile: int, temporal: float
) -> tuple[str, str]:
    """(frames/s, peak GiB) of upscale_frames over `frames` after one warm-up batch."""
    import torch

    from ...post.upscale import load_upscaler, upscale_frames

    upscaler = load_upscaler(path, device=device, tile=tile)
    list(upscale_frames(frames[:4], upscaler, scale=scale, batch=4, temporal=temporal))  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    count = sum(1 for _ in upscale_frames(frames, upscaler, scale=scale, batch=4, temporal=temporal))
    seconds = time.perf_counter() - started
    peak = _peak_gib(device)
    upscaler.release()
    return f"{count / seconds:.2f}", peak


@check(
    "upscale",
    "Upscaling: Real-ESRGAN x4plus and animevideov3 architectures, 480p x2/x4 and to 4K",
    seconds=150,
    expected=70,
    needs=("spandrel", "torchvision"),
    priority=60,
)
def upscale(context: Context) -> list[str]:
    """frames/s and peak memory per architecture, scale, tile and stabilisation."""
    scale = context.scale
    device = scale.device
    architectures = TINY_ARCHITECTURES if context.dry_run else ARCHITECTURES
    height, width = (scale.height, scale.width) if context.dry_run else (480, 832)
    count = 4 if context.dry_run else 24
    cases = [(2, 512, 0.0), (2, 512, 0.5), (4, 512, 0.5)]
    lines = [
        f"{count} frames of {width}x{height} (after a 4-frame warm-up), batches of 4, fp16 on CUDA; "
        "stabilisation = flow-warped blend with the previous frame (OpenCV DIS on the CPU)",
        "",
        "| architecture | input | scale | tile | stabilisation | frames/s | peak GiB |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for name, (kind, sizes) in architectures.items():
            path = _write(Path(folder), kind, sizes)
            frames = _frames(count, height, width)
            for factor, tile, temporal in cases:
                rate, peak = _rate(path, device, frames, scale=factor, tile=tile, temporal=temporal)
                lines.append(
                    f"| {name} | {width}x{height} | x{factor} | {tile} | {temporal:g} | {rate} | {peak} |"
                )
            big = (scale.height, scale.width) if context.dry_run else (540, 960)  # x4: 3840x2160
            rate, peak = _rate(path, device, _frames(count // 2, *big), scale=4, tile=512, temporal=0.5)
            lines.append(f"| {name} | {big[1]}x{big[0]} | x4 (4K) | 512 | 0.5 | {rate} | {peak} |")
    return [*lines, "", *_refine_lines(context)]


def _refine_lines(context: Context) -> list[str]:
    """The Wan refine pass (T2V-1.3B, random weights) on 17 frames at 2x 480p, strength 0.3."""
    import diffusers

    from ...post.upscale.refine import REFINE_STEPS, RefineSpan, refine_window
    from ..build import build_pipeline

    scale = context.scale
    model = "t2v-1.3b"
    pipe = build_pipeline(scale.model(model), device=scale.device, dtype=scale.dtype)
    parts = {key: value for key, value in pipe.components.items() if key != "transformer_2"}
    refiner = diffusers.WanVideoToVideoPipeline(**parts)
    refiner.set_progress_bar_config(disable=True)
    if scale.device.type == "cuda":
        refiner.vae.enable_tiling()
    height, width = (scale.height, scale.width) if context.dry_run else (960, 1664)
    frames = 5 if context.dry_run else 17
    span = RefineSpan(0, frames, "a misty forest", "", 1)
    lines = [
        f"Refine pass ({scale.label(model)}, WanVideoToVideoPipeline, {REFINE_STEPS} steps at strength 0.3, "
        "guidance 5): "
    ]
    for tile in (0, 832):
        tile = min(tile, 48) if context.dry_run else tile
        if scale.device.type == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats(scale.device)
        started = time.perf_counter()
        refine_window(refiner, _frames(frames, height, width), span, strength=0.3, tile=tile)
        seconds = time.perf_counter() - started
        where = f"{frames} frames at {width}x{height}, tile {tile or 'none'}"
        lines.append(f"- {where}: {seconds:.1f} s, peak {_peak_gib(scale.device)} GiB")
    return lines
