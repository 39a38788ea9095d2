"""Upscaling the output frames (upscale_* settings): an image upscaler the user has (ESRGAN,
Real-ESRGAN, SwinIR, HAT, ... loaded through spandrel) on every frame, with temporal
stabilisation, and an optional low-strength Wan refine pass at the larger size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .fields import Converted, FieldError, Flag, Integer, Invalid, Number, setting
from .files import LocalFile
from .group import SettingsGroup

UPSCALER_SUFFIXES = (".pth", ".safetensors", ".pt", ".ckpt", ".bin")
SCALES = (2, 4)
MAX_REFINE_STRENGTH = 0.6


def _whole(value: Any) -> int | None:
    try:
        return Integer(0, 1_000_000)(value)
    except Invalid:
        return None


def upscale_factor(value: Any) -> int:
    """2 or 4."""
    number = _whole(value)
    if number not in SCALES:
        raise ValueError("must be 2 or 4")
    return number


def tile_size(value: Any) -> int:
    """0 (whole frames) or a tile side from 64 to 2048 pixels of the input frame."""
    number = _whole(value)
    if number is None or (number != 0 and not 64 <= number <= 2048):
        raise ValueError("must be 0 (whole frames) or a tile size from 64 to 2048 pixels")
    return number


def refine_model_ref(value: Any) -> str:
    """A text-to-video model id of the catalog, or a local diffusers folder of one."""
    from ..catalog import known_model, local_model
    from .fields import Text
    from .files import caller_path

    text = Text(4096)(value).strip()
    spec = known_model(text) if text else None
    if spec is None:
        kept, path = caller_path(text, "models")
        if path is None or not path.is_dir():
            raise ValueError("must be a text-to-video model id (t2v-1.3b, t2v-14b) or a local T2V folder")
        spec, text = local_model(path), kept
    if spec.kind != "t2v":
        raise ValueError(
            f"is a {spec.kind} model; the refine pass needs a text-to-video model (t2v-1.3b, t2v-14b)"
        )
    return spec.id if known_model(text) else text


UpscalerFile = LocalFile("models", UPSCALER_SUFFIXES, "an image upscaler model (ESRGAN, SwinIR, ...)")


@dataclass(frozen=True)
class UpscaleOptions(SettingsGroup):
    """How the output frames are upscaled (off by default)."""

    PREFIX: ClassVar[str] = "upscale_"

    enabled: bool = setting(False, Flag(), "Upscale the output frames", label="Upscale")
    model: str = setting(
        "",
        UpscalerFile,
        "Image upscaler file (ESRGAN, Real-ESRGAN, SwinIR, HAT, ...: anything spandrel loads); "
        "in the WebUI also the host's models/ESRGAN, RealESRGAN and SwinIR folders",
        label="Upscaler model",
    )
    scale: int = setting(
        2,
        Converted(upscale_factor, "2 or 4"),
        "Output size over the render's: 2 or 4 (a model of another scale is resized to it)",
        label="Upscale factor",
    )
    batch: int = setting(4, Integer(1, 64), "Frames upscaled at once on the device", label="Upscale batch")
    tile: int = setting(
        512,
        Converted(tile_size, "0, or a tile size from 64 to 2048"),
        "Tile side in input pixels (0: whole frames); tiles bound the device memory at any size",
        label="Upscale tile size",
    )
    temporal: float = setting(
        0.5,
        Number(0.0, 0.95),
        "Temporal stabilisation: how much of the previous upscaled frame, moved by optical flow, is "
        "blended in where it matches (0: off)",
        label="Upscale stabilisation",
    )
    refine_strength: float = setting(
        0.0,
        Number(0.0, MAX_REFINE_STRENGTH),
        "Wan refine pass at the larger size (video-to-video, this strength; 0: off)",
        label="Refine strength",
    )
    refine_model: str = setting(
        "t2v-1.3b",
        Converted(refine_model_ref, "a text-to-video model id (t2v-1.3b, t2v-14b) or a local T2V folder"),
        "Refine pass: the text-to-video Wan model that redraws the upscaled frames",
        label="Refine model",
    )
    refine_tile: int = setting(
        0,
        Converted(tile_size, "0, or a tile size from 64 to 2048"),
        "Refine pass: tile side in output pixels (0: whole frames)",
        label="Refine tile size",
    )

    def _rule_upscaling_needs_a_model(self) -> list[FieldError]:
        if self.enabled and not self.model:
            message = "upscaling needs an upscaler file (upscale_model: .pth or .safetensors)"
            return [FieldError("upscale_model", self.model, message)]
        return []


UPSCALER_SUBFOLDER = "upscalers"
# the WebUI's own upscaler folders under its models folder, and the flags that move them
HOST_UPSCALER_FOLDERS = {
    "ESRGAN": "esrgan_models_path",
    "RealESRGAN": "realesrgan_models_path",
    "SwinIR": "swinir_models_path",
}


def upscaler_folders(models_dir: str | Path, extra: Sequence[str | Path] = ()) -> tuple[Path, ...]:
    """Where upscaler files are looked for: `<models folder>/upscalers`, then `extra` (inside the
    WebUI: its models/ESRGAN, models/RealESRGAN and models/SwinIR)."""
    folders = [Path(models_dir).expanduser() / UPSCALER_SUBFOLDER, *(Path(f).expanduser() for f in extra)]
    return tuple(dict.fromkeys(folders))


def list_upscalers(folders: Sequence[Path]) -> list[str]:
    """The upscaler files in `folders` (absolute paths, sorted by name; links leading outside a
    folder are left out)."""
    found: dict[str, str] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        root = folder.resolve()
        for path in sorted(folder.rglob("*")):
            if (
                path.suffix.lower() in UPSCALER_SUFFIXES
                and path.is_file()
                and path.resolve().is_relative_to(root)
            ):
                found.setdefault(path.name.lower() + str(path), str(path.resolve()))
    return [found[key] for key in sorted(found)]
