"""An image upscaler loaded through spandrel, run on batches of frames, tile by tile.

The file is read as a state dict without running code (safetensors, or torch.load with
weights_only), then spandrel's ModelLoader recognises the architecture from its keys. Frames go
through the model in batches (B, 3, H, W) on the device; a frame larger than `tile` pixels on a
side is cut into overlapping tiles, each run for the whole batch at once, and the tiles' outputs
are blended back with linear ramps across the overlap (a tile's outermost pixels, computed
against zero padding, get none), so device memory depends on the tile size,
not on the frame size. A model of another scale than the one asked for is resized to it (Lanczos
up, area down).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ...errors import WanError
from .tiles import blend_ramp, tile_starts

TILE_OVERLAP = 16  # input pixels each tile shares with its neighbours
TILE_MARGIN = 4  # input pixels at a tile's inner edges that get no weight (the neighbour's count)


class UpscaleError(WanError, ValueError):
    """An upscaler file or option that cannot be used; the message names the setting."""


def _spandrel() -> Any:
    try:
        import spandrel
    except ImportError as exc:  # spandrel itself, or torchvision it imports
        raise UpscaleError(
            f"upscaling needs the spandrel package ({exc}); install it with: pip install -e '.[upscale]'"
        ) from None
    return spandrel


def read_state_dict(path: Path, setting: str) -> dict[str, Any]:
    """A model file's tensors, without running code from it."""
    import torch

    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # damaged, TorchScript, or a pickle with code: many error types
        raise UpscaleError(
            f"{setting}: '{path}' cannot be read as a state dict of tensors ({type(exc).__name__}); "
            "use a .pth or .safetensors upscaler file"
        ) from None
    if not isinstance(state, dict):
        raise UpscaleError(f"{setting}: '{path}' is not a state dict")
    return state


@dataclass
class Upscaler:
    """A loaded image upscaler: `run` upscales a batch of uint8 RGB frames by `scale` (the
    model's own factor)."""

    descriptor: Any
    name: str
    scale: int
    device: Any
    dtype: Any
    tile: int = 0

    def run(self, frames: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) uint8 -> (B, H*scale, W*scale, 3) uint8, tiled when a side is over `tile`."""
        import torch

        height, width = frames.shape[1:3]
        with torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
            batch = batch.permute(0, 3, 1, 2).to(self.dtype).div_(255.0)
            if not self.tile or (height <= self.tile and width <= self.tile):
                output = self.descriptor(batch)
            else:
                output = self._tiled(batch)
            pixels = output.float().clamp(0, 1).mul(255.0).round().to(torch.uint8)
            return pixels.permute(0, 2, 3, 1).cpu().numpy()

    def _tiled(self, batch: Any) -> Any:
        """The batch upscaled tile by tile, blended with linear ramps across each overlap."""
        import torch

        _, channels, height, width = batch.shape
        scale = self.scale
        output = torch.zeros((batch.shape[0], channels, height * scale, width * scale), device=self.device)
        weights = torch.zeros((1, 1, height * scale, width * scale), device=self.device)
        for top in tile_starts(height, self.tile, TILE_OVERLAP):
            for left in tile_starts(width, self.tile, TILE_OVERLAP):
                bottom, right = min(top + self.tile, height), min(left + self.tile, width)
                upscaled = self.descriptor(batch[:, :, top:bottom, left:right]).float()
                overlap, margin = TILE_OVERLAP * scale, TILE_MARGIN * scale
                rows = blend_ramp((bottom - top) * scale, top * scale, height * scale, overlap, margin)
                columns = blend_ramp((right - left) * scale, left * scale, width * scale, overlap, margin)
                ramp = torch.from_numpy(rows[:, None] * columns[None, :])[None, None].to(self.device)
                output[:, :, top * scale : bottom * scale, left * scale : right * scale] += upscaled * ramp
                weights[:, :, top * scale : bottom * scale, left * scale : right * scale] += ramp
        return output / weights

    def release(self) -> None:
        """Drop the model and empty the CUDA cache."""
        from ...models.loading import free_memory

        self.descriptor = None
        free_memory(reset_peak=False)


def load_upscaler(
    path: str | Path, *, device: Any = None, tile: int = 0, setting: str = "upscale_model"
) -> Upscaler:
    """Load an image upscaler file with spandrel onto `device` (CUDA when available): half
    precision on CUDA when the architecture supports it."""
    import torch

    from ...models.loading import default_device

    path = Path(path)
    if not path.is_file():
        raise UpscaleError(f"{setting}: '{path}' is not a file")
    spandrel = _spandrel()
    state = read_state_dict(path, setting)
    device = torch.device(device) if device is not None else default_device()
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(spandrel.canonicalize_state_dict(state))
    except spandrel.UnsupportedModelError:
        raise UpscaleError(
            f"{setting}: '{path.name}' is not an architecture spandrel knows (ESRGAN, Real-ESRGAN, SwinIR, "
            "HAT, SPAN, Compact, ...)"
        ) from None
    if not isinstance(descriptor, spandrel.ImageModelDescriptor) or descriptor.purpose != "SR":
        raise UpscaleError(
            f"{setting}: '{path.name}' is a {descriptor.architecture.name} model for {descriptor.purpose}, "
            "not an upscaler"
        )
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise UpscaleError(f"{setting}: '{path.name}' does not take and give RGB images")
    dtype = torch.float32
    if device.type == "cuda":
        dtype = torch.float16 if descriptor.supports_half else torch.float32
    descriptor = descriptor.to(device).to(dtype).eval()
    return Upscaler(descriptor, descriptor.architecture.name, int(descriptor.scale), device, dtype, tile)


def resize_to(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """A frame resized to exactly (width, height): Lanczos up, area down."""
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    method = cv2.INTER_AREA if width < frame.shape[1] else cv2.INTER_LANCZOS4
    return cv2.resize(frame, (width, height), interpolation=method)
