"""The Wan checkpoints we support, in diffusers format: pure data, no torch.

Facts per model: the hub id, the pipeline kind, the native frame rate and clip length, the
resolutions it was trained for and the size its frames must be a multiple of, the sampling
defaults of the reference implementation, its experts, its VAE and the parameter counts, from
which the weights' memory per weights format follows.

Wan 2.1 (the reference's defaults): 50 steps for T2V / VACE, 40 for I2V; guidance 5.0; flow shift
3.0 at 480p, 5.0 at 720p; 16 fps, 81 frames; the Wan 2.1 VAE (16 latent channels, 8x spatial).

Wan 2.2 (the Wan2.2 repository's configs, wan/configs/wan_*.py, and the diffusers conversion
script scripts/convert_wan_to_diffusers.py):
- T2V-A14B and I2V-A14B have two experts of the 14B architecture: `transformer` denoises while
  the timestep is at or above boundary_ratio x 1000 (high noise), `transformer_2` below it (low
  noise). T2V-A14B: boundary 0.875, flow shift 12, 40 steps, guidance 4.0 high / 3.0 low;
  I2V-A14B: boundary 0.900, flow shift 5, 40 steps, guidance 3.5 / 3.5 (no CLIP image encoder:
  the image enters as latents). 16 fps, 81 frames, 480p and 720p, the Wan 2.1 VAE.
- TI2V-5B: one transformer (30 layers, 24 heads, 48 latent channels), text-to-video and
  image-to-video (the first latent frame is the image's), 24 fps, up to 121 frames, 1280x704 or
  704x1280, sizes in multiples of 32, its own VAE (48 latent channels, 16x spatial), flow shift 5,
  50 steps, guidance 5.0.
- VACE-Fun A14B (alibaba-pai's VACE for Wan 2.2, converted to diffusers as
  linoyts/Wan2.2-VACE-Fun-14B-diffusers, whose model_index.json sets boundary_ratio 0.875): two
  VACE experts of the VACE-14B architecture through WanVACEPipeline. Its sampling defaults are
  not published in a config we could read here: the T2V-A14B's are used (flow shift 12, 40
  steps, guidance 4.0 / 3.0) - not verified.

Parameter counts were counted with torch meta tensors from the diffusers configs of each model
(wan.models.architectures; tests/test_speed.py recounts them): transformer per expert (VACE
blocks included), UMT5-XXL text encoder 5.68e9 (shared embedding counted once), Wan 2.1 VAE
0.127e9, Wan 2.2 VAE 0.705e9, CLIP ViT-H image encoder 0.631e9 (Wan 2.1 I2V only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ModelKind = Literal["vace", "t2v", "i2v", "ti2v"]
VaeKind = Literal["wan2.1", "wan2.2"]

SIZE_480P = (832, 480)
SIZE_720P = (1280, 720)
SIZE_TI2V = (1280, 704)
# diffusers' Wan docs: "5.0 for 720P, 3.0 for 480P".
FLOW_SHIFT_480P = 3.0
FLOW_SHIFT_720P = 5.0

TEXT_ENCODER_PARAMS = 5_680_910_336
VAE_PARAMS = 126_892_531
VAE22_PARAMS = 704_688_668
IMAGE_ENCODER_PARAMS = 630_766_080
VAE_SPATIAL = {"wan2.1": 8, "wan2.2": 16}

PIPELINE_KINDS: dict[str, ModelKind] = {
    "WanVACEPipeline": "vace",
    "WanPipeline": "t2v",
    "WanImageToVideoPipeline": "i2v",
}
GIB = 1024**3

# Bytes per transformer parameter of each weights format (the Linear weights, which hold nearly
# all parameters; norms and embeddings stay in bf16, a fraction of a percent more):
# bitsandbytes NF4 stores 4 bits plus one 8-bit absmax per 64 weights and one fp32 per 256 of
# those (double quantization): 4.127 bits. GGUF: Q8_0 is 8.5 bits (34 bytes per 32 weights),
# Q4_K_M about 4.85 bits on average (llama.cpp's figure: Q4_K with some tensors in Q6_K).
WEIGHT_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int8_torchao": 1.0,
    "nf4": 4.127 / 8,
    "gguf_q8_0": 8.5 / 8,
    "gguf_q4_k_m": 4.85 / 8,
}


@dataclass(frozen=True)
class ModelSpec:
    """What the planner and loader need to know about one checkpoint. `transformer_params` is
    per expert; `flow_shift` None means by resolution (3.0 at 480p, 5.0 from 720p)."""

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
    experts: int = 1
    boundary_ratio: float | None = None
    default_guidance_2: float | None = None
    flow_shift: float | None = None
    size_multiple: int = 16
    vae: VaeKind = "wan2.1"
    image_encoder: bool = False

    @property
    def continues_clips(self) -> bool:
        """Whether the model itself can continue a clip from frames of the previous one."""
        return self.kind in ("vace", "i2v", "ti2v")

    @property
    def takes_image(self) -> bool:
        """Whether the model can start a clip from an image."""
        return self.kind in ("vace", "i2v", "ti2v")

    @property
    def vae_spatial(self) -> int:
        """Pixels per latent pixel of the model's VAE."""
        return VAE_SPATIAL[self.vae]

    def flow_shift_for(self, width: int, height: int) -> float:
        """The reference flow shift of this model at a size."""
        if self.flow_shift is not None:
            return self.flow_shift
        return default_flow_shift(width, height)

    def weights_gb(self, precision: str = "bf16") -> dict[str, float]:
        """Memory of the weights in GiB: the transformer(s) in `precision` (a WEIGHT_BYTES
        format), text encoder in bf16 (used once, then released), VAE in fp32; activations come
        on top. Empty for the tiny models."""
        if self.tiny or not self.transformer_params:
            return {}
        parts = {
            "transformer": self.experts * self.transformer_params * WEIGHT_BYTES[precision] / GIB,
            "text_encoder": TEXT_ENCODER_PARAMS * 2 / GIB,
            "vae": (VAE22_PARAMS if self.vae == "wan2.2" else VAE_PARAMS) * 4 / GIB,
        }
        if self.image_encoder:
            parts["image_encoder"] = IMAGE_ENCODER_PARAMS * 2 / GIB
        return parts


# The Wan 2.2 A14B experts: the 14B architecture (in_channels 36 for I2V, which has no image
# encoder); counted like the Wan 2.1 ones.
_A14B_T2V_PARAMS = 14_288_491_584
_A14B_I2V_PARAMS = 14_288_901_184
_VACE_14B_PARAMS = 17_337_592_896
# sampling defaults and layout of the Wan 2.2 models (the module doc says where they come from);
# VACE-Fun and the tiny stand-ins share them
_A14B_T2V = {
    "default_steps": 40,
    "default_guidance": 4.0,
    "experts": 2,
    "boundary_ratio": 0.875,
    "default_guidance_2": 3.0,
    "flow_shift": 12.0,
}
_A14B_I2V = {
    **_A14B_T2V,
    "default_guidance": 3.5,
    "boundary_ratio": 0.9,
    "default_guidance_2": 3.5,
    "flow_shift": 5.0,
}
_TI2V = {"native_fps": 24, "max_frames": 121, "flow_shift": 5.0, "size_multiple": 32, "vae": "wan2.2"}

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
            transformer_params=_VACE_14B_PARAMS,
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
            image_encoder=True,
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
            image_encoder=True,
        ),
        ModelSpec(
            "t2v-a14b",
            "Wan-AI/Wan2.2-T2V-A14B-Diffusers",
            "t2v",
            "A14B",
            "Wan 2.2 T2V A14B: text-to-video, two 14B experts (high / low noise), 480p and 720p",
            sizes=(SIZE_480P, SIZE_720P),
            transformer_params=_A14B_T2V_PARAMS,
            **_A14B_T2V,
        ),
        ModelSpec(
            "i2v-a14b",
            "Wan-AI/Wan2.2-I2V-A14B-Diffusers",
            "i2v",
            "A14B",
            "Wan 2.2 I2V A14B: image-to-video, two 14B experts, continues clips from their last frame",
            sizes=(SIZE_480P, SIZE_720P),
            transformer_params=_A14B_I2V_PARAMS,
            **_A14B_I2V,
        ),
        ModelSpec(
            "ti2v-5b",
            "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
            "ti2v",
            "5B",
            "Wan 2.2 TI2V 5B: text- and image-to-video, 24 fps, up to 121 frames, 1280x704",
            sizes=(SIZE_TI2V,),
            transformer_params=4_999_787_712,
            **_TI2V,
        ),
        ModelSpec(
            "vace-fun-a14b",
            "linoyts/Wan2.2-VACE-Fun-14B-diffusers",
            "vace",
            "A14B",
            "Wan 2.2 VACE-Fun A14B: VACE with two 14B experts, 480p and 720p",
            sizes=(SIZE_480P, SIZE_720P),
            transformer_params=_VACE_14B_PARAMS,
            **_A14B_T2V,
        ),
        # Tiny random models built with the real classes (wan.models.tiny): for tests and a quick
        # check of an install. Their output is noise.
        ModelSpec("tiny", "", "vace", "tiny", "tiny random VACE model (tests, install check)", tiny=True),
        ModelSpec("tiny-t2v", "", "t2v", "tiny", "tiny random T2V model (tests)", tiny=True),
        ModelSpec(
            "tiny-i2v", "", "i2v", "tiny", "tiny random I2V model (tests)", tiny=True, image_encoder=True
        ),
        ModelSpec(
            "tiny-t2v-2experts",
            "",
            "t2v",
            "tiny",
            "tiny random two-expert T2V model, as Wan 2.2 T2V-A14B (tests)",
            tiny=True,
            **_A14B_T2V,
        ),
        ModelSpec(
            "tiny-i2v-2experts",
            "",
            "i2v",
            "tiny",
            "tiny random two-expert I2V model, as Wan 2.2 I2V-A14B (tests)",
            tiny=True,
            **_A14B_I2V,
        ),
        ModelSpec(
            "tiny-vace-2experts",
            "",
            "vace",
            "tiny",
            "tiny random two-expert VACE model, as Wan 2.2 VACE-Fun A14B (tests)",
            tiny=True,
            **_A14B_T2V,
        ),
        ModelSpec(
            "tiny-ti2v",
            "",
            "ti2v",
            "tiny",
            "tiny random TI2V model with the Wan 2.2 VAE's layout, as Wan 2.2 TI2V-5B (tests)",
            tiny=True,
            **_TI2V,
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


def _component(index: dict, name: str) -> bool:
    """Whether model_index.json lists a component (diffusers writes [null, null] for none)."""
    entry = index.get(name)
    return isinstance(entry, list) and len(entry) == 2 and entry[1] is not None


def local_model(folder: str | Path) -> ModelSpec:
    """Describe a diffusers pipeline folder from its model_index.json (its class, whether it has
    a second expert and where they part, whether it is a TI2V pipeline); ValueError if it is not
    a Wan pipeline folder."""
    path = Path(folder).expanduser()
    index_path = path / "model_index.json"
    if not index_path.is_file():
        raise ValueError(f"'{folder}' has no model_index.json, so it is not a diffusers pipeline folder")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        class_name = index.get("_class_name", "")
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"cannot read {index_path}: {exc}") from None
    kind = PIPELINE_KINDS.get(class_name)
    if kind is None:
        allowed = ", ".join(PIPELINE_KINDS)
        raise ValueError(f"'{folder}' holds a {class_name or 'unknown'} pipeline; allowed: {allowed}")
    experts = 2 if _component(index, "transformer_2") else 1
    boundary = index.get("boundary_ratio") if experts == 2 else None
    ti2v = bool(index.get("expand_timesteps"))
    extra: dict = {}
    if ti2v:  # TI2V-5B's layout: its VAE, frame rate, clip length and size rule
        extra = {"kind": "ti2v", "native_fps": 24, "max_frames": 121, "size_multiple": 32, "vae": "wan2.2"}
    return ModelSpec(
        **{
            "id": str(folder),
            "hub_id": "",
            "kind": kind,
            "parameters": "local",
            "description": f"local {class_name} from {folder}",
            "default_steps": 40 if kind == "i2v" else 50,
            "experts": experts,
            "boundary_ratio": float(boundary) if isinstance(boundary, (int, float)) else None,
            "image_encoder": kind == "i2v" and _component(index, "image_encoder"),
            **extra,
        }
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
