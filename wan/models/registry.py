"""The Wan 2.1 checkpoints we support, in diffusers format: pure data, no torch.

Facts per model: the hub id, the pipeline kind, the native frame rate and clip length, the
resolutions it was trained for, and the sampling defaults of the reference implementation
(50 steps for T2V / VACE, 40 for I2V; guidance 5.0; flow shift 3.0 at 480p, 5.0 at 720p).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ModelKind = Literal["vace", "t2v", "i2v"]

SIZE_480P = (832, 480)
SIZE_720P = (1280, 720)
# diffusers' Wan docs: "5.0 for 720P, 3.0 for 480P".
FLOW_SHIFT_480P = 3.0
FLOW_SHIFT_720P = 5.0

PIPELINE_KINDS: dict[str, ModelKind] = {
    "WanVACEPipeline": "vace",
    "WanPipeline": "t2v",
    "WanImageToVideoPipeline": "i2v",
}


@dataclass(frozen=True)
class ModelSpec:
    """What the planner and loader need to know about one checkpoint."""

    id: str
    hub_id: str
    kind: ModelKind
    parameters: str
    description: str
    sizes: tuple[tuple[int, int], ...] = (SIZE_480P,)
    native_fps: int = 16
    max_frames: int = 81
    default_steps: int = 50
    default_guidance: float = 5.0

    @property
    def continues_clips(self) -> bool:
        """Whether the model itself can continue a clip from frames of the previous one."""
        return self.kind in ("vace", "i2v")


MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            "vace-1.3b",
            "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
            "vace",
            "1.3B",
            "VACE 1.3B: text-to-video and image-to-video in one model, 480p (recommended)",
        ),
        ModelSpec(
            "vace-14b",
            "Wan-AI/Wan2.1-VACE-14B-diffusers",
            "vace",
            "14B",
            "VACE 14B: text-to-video and image-to-video in one model, 480p and 720p",
            sizes=(SIZE_480P, SIZE_720P),
        ),
        ModelSpec(
            "t2v-1.3b",
            "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            "t2v",
            "1.3B",
            "T2V 1.3B: text-to-video only, 480p",
        ),
        ModelSpec(
            "t2v-14b",
            "Wan-AI/Wan2.1-T2V-14B-Diffusers",
            "t2v",
            "14B",
            "T2V 14B: text-to-video only, 480p and 720p",
            sizes=(SIZE_480P, SIZE_720P),
        ),
        ModelSpec(
            "i2v-14b-480p",
            "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
            "i2v",
            "14B",
            "I2V 14B 480p: image-to-video, continues clips from their last frame",
            default_steps=40,
        ),
        ModelSpec(
            "i2v-14b-720p",
            "Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
            "i2v",
            "14B",
            "I2V 14B 720p: image-to-video, continues clips from their last frame",
            sizes=(SIZE_720P,),
            default_steps=40,
        ),
    )
}

DEFAULT_MODEL = "vace-1.3b"


def known_model(ref: str) -> ModelSpec | None:
    """The registry entry for an id or hub id (case-insensitive), or None."""
    wanted = ref.strip().lower()
    for spec in MODELS.values():
        if wanted in (spec.id, spec.hub_id.lower()):
            return spec
    return None


def local_model(folder: str | Path) -> ModelSpec:
    """Describe a diffusers pipeline folder from its model_index.json; ValueError if it is not one."""
    path = Path(folder).expanduser()
    index = path / "model_index.json"
    if not index.is_file():
        raise ValueError(f"'{folder}' has no model_index.json, so it is not a diffusers pipeline folder")
    try:
        class_name = json.loads(index.read_text(encoding="utf-8")).get("_class_name", "")
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"cannot read {index}: {exc}") from None
    kind = PIPELINE_KINDS.get(class_name)
    if kind is None:
        allowed = ", ".join(PIPELINE_KINDS)
        raise ValueError(f"'{folder}' holds a {class_name or 'unknown'} pipeline; allowed: {allowed}")
    return ModelSpec(
        str(folder),
        "",
        kind,
        "local",
        f"local {class_name} from {folder}",
        default_steps=40 if kind == "i2v" else 50,
    )


def model_spec(ref: str) -> ModelSpec:
    """Resolve a registry id, a hub id or a local pipeline folder; ValueError with what is allowed."""
    spec = known_model(ref)
    if spec is not None:
        return spec
    if Path(ref).expanduser().is_dir():
        return local_model(ref)
    allowed = ", ".join(MODELS)
    raise ValueError(f"unknown model '{ref}'; use one of {allowed}, a hub id, or a local diffusers folder")


def default_flow_shift(width: int, height: int) -> float:
    """The reference flow shift for a resolution: 5.0 from 720p up, 3.0 below."""
    return FLOW_SHIFT_720P if min(width, height) >= 720 else FLOW_SHIFT_480P
