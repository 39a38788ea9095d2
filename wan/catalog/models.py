"""The Wan 2.1 checkpoints we support, in diffusers format: pure data, no torch.

Facts per model: the hub id, the pipeline kind, the native frame rate and clip length, the
resolutions it was trained for, the sampling defaults of the reference implementation (50 steps
for T2V / VACE, 40 for I2V; guidance 5.0; flow shift 3.0 at 480p, 5.0 at 720p) and the parameter
counts, from which the weights' memory per precision follows.

Parameter counts were counted with torch meta tensors from the diffusers configs of each model
(scripts/convert_wan_to_diffusers.py in diffusers; tests/test_speed.py recounts them):
transformer (VACE blocks included), UMT5-XXL text encoder 5.68e9 (shared embedding counted
once), Wan VAE 0.127e9, CLIP ViT-H image encoder 0.631e9 (I2V only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ModelKind = Literal["vace", "t2v", "i2v"]

SIZE_480P = (832, 480)
SIZE_720P = (1280, 720)
TINY_SIZES = ((128, 80),)
# diffusers' Wan docs: "5.0 for 720P, 3.0 for 480P".
FLOW_SHIFT_480P = 3.0
FLOW_SHIFT_720P = 5.0

TEXT_ENCODER_PARAMS = 5_680_910_336
VAE_PARAMS = 126_892_531
IMAGE_ENCODER_PARAMS = 630_766_080

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
    transformer_params: int = 0
    tiny: bool = False
    size_multiple: int = 16  # frame sides are multiples of this: the VAE's 8x times the 2x2 patch

    @property
    def continues_clips(self) -> bool:
        """Whether the model itself can continue a clip from frames of the previous one."""
        return self.kind in ("vace", "i2v")

    def weights_gb(self, precision: str = "bf16") -> dict[str, float]:
        """Memory of the weights in GiB: transformer in `precision` (bf16, fp16, fp8 or fp32), text
        encoder in bf16 (used once, then released), VAE in fp32; activations come on top."""
        size = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}[precision]
        if self.tiny or not self.transformer_params:
            return {}
        gib = 1024**3
        parts = {
            "transformer": self.transformer_params * size / gib,
            "text_encoder": TEXT_ENCODER_PARAMS * 2 / gib,
            "vae": VAE_PARAMS * 4 / gib,
        }
        if self.kind == "i2v":
            parts["image_encoder"] = IMAGE_ENCODER_PARAMS * 2 / gib
        return parts


MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            "vace-1.3b",
            "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
            "vace",
            "1.3B",
            "VACE 1.3B: text-to-video and image-to-video in one model, 480p (recommended)",
            transformer_params=2_153_972_032,
        ),
        ModelSpec(
            "vace-14b",
            "Wan-AI/Wan2.1-VACE-14B-diffusers",
            "vace",
            "14B",
            "VACE 14B: text-to-video and image-to-video in one model, 480p and 720p",
            sizes=(SIZE_480P, SIZE_720P),
            transformer_params=17_337_592_896,
        ),
        ModelSpec(
            "t2v-1.3b",
            "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            "t2v",
            "1.3B",
            "T2V 1.3B: text-to-video only, 480p",
            transformer_params=1_418_996_800,
        ),
        ModelSpec(
            "t2v-14b",
            "Wan-AI/Wan2.1-T2V-14B-Diffusers",
            "t2v",
            "14B",
            "T2V 14B: text-to-video only, 480p and 720p",
            sizes=(SIZE_480P, SIZE_720P),
            transformer_params=14_288_491_584,
        ),
        ModelSpec(
            "i2v-14b-480p",
            "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
            "i2v",
            "14B",
            "I2V 14B 480p: image-to-video, continues clips from their last frame",
            default_steps=40,
            transformer_params=16_394_878_784,
        ),
        ModelSpec(
            "i2v-14b-720p",
            "Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
            "i2v",
            "14B",
            "I2V 14B 720p: image-to-video, continues clips from their last frame",
            sizes=(SIZE_720P,),
            default_steps=40,
            transformer_params=16_394_878_784,
        ),
        # Tiny random models built with the real classes (wan.models.tiny): for tests and a quick
        # check of an install. Their output is noise. Their nominal "trained" size is small, so a
        # size that is not a multiple of 16 renders small and fast (wan.catalog.sizes).
        ModelSpec(
            "tiny", "", "vace", "tiny", "tiny random VACE model (tests, install check)", TINY_SIZES, tiny=True
        ),
        ModelSpec("tiny-t2v", "", "t2v", "tiny", "tiny random T2V model (tests)", TINY_SIZES, tiny=True),
        ModelSpec(
            "tiny-i2v",
            "",
            "i2v",
            "tiny",
            "tiny random I2V model (tests)",
            TINY_SIZES,
            tiny=True,
            default_steps=50,
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
