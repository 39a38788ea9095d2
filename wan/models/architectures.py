"""The transformer configurations of the real Wan 2.1 and 2.2 checkpoints (pure data), and
random-weight builds of them for benchmarks: timing does not depend on the weights, so the
benchmarks need no download.

The configurations are those of diffusers' scripts/convert_wan_to_diffusers.py (Wan2.2-T2V-A14B,
Wan2.2-I2V-14B-720p, Wan2.2-TI2V-5B, Wan2.2-VACE-Fun-14B there); a Wan 2.2 A14B model has two
experts of one configuration each. Building each one with meta tensors gives exactly the
parameter counts of the registry (tests/test_speed.py checks).
"""

from __future__ import annotations

import copy
from typing import Any

_SHARED: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "attention_head_dim": 128,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "rope_max_seq_len": 1024,
}
_SMALL = {"num_attention_heads": 12, "ffn_dim": 8960, "num_layers": 30}
_LARGE = {"num_attention_heads": 40, "ffn_dim": 13824, "num_layers": 40}
_I2V = {"in_channels": 36, "image_dim": 1280, "added_kv_proj_dim": 5120}
# TI2V-5B: 24 heads of 128, 30 layers, the Wan 2.2 VAE's 48 latent channels in and out
_TI2V = {"num_attention_heads": 24, "ffn_dim": 14336, "num_layers": 30, "in_channels": 48, "out_channels": 48}

TRANSFORMER_CONFIGS: dict[str, dict[str, Any]] = {
    "t2v-1.3b": {**_SHARED, **_SMALL},
    "t2v-14b": {**_SHARED, **_LARGE},
    "vace-1.3b": {**_SHARED, **_SMALL, "vace_layers": list(range(0, 30, 2)), "vace_in_channels": 96},
    "vace-14b": {**_SHARED, **_LARGE, "vace_layers": list(range(0, 40, 5)), "vace_in_channels": 96},
    "i2v-14b-480p": {**_SHARED, **_LARGE, **_I2V},
    "i2v-14b-720p": {**_SHARED, **_LARGE, **_I2V},
    "t2v-a14b": {**_SHARED, **_LARGE},
    # Wan 2.2 I2V takes the image as latents (16 + 4 mask + 16 channels), with no CLIP features
    "i2v-a14b": {**_SHARED, **_LARGE, "in_channels": 36},
    "ti2v-5b": {**_SHARED, **_TI2V},
    "vace-fun-a14b": {**_SHARED, **_LARGE, "vace_layers": list(range(0, 40, 5)), "vace_in_channels": 96},
}
# The Wan 2.2 VAE (TI2V-5B's): diffusers' vae22_diffusers_config without its latent statistics
VAE22_CONFIG: dict[str, Any] = {
    "base_dim": 160,
    "decoder_base_dim": 256,
    "z_dim": 48,
    "is_residual": True,
    "in_channels": 12,
    "out_channels": 12,
    "patch_size": 2,
    "scale_factor_temporal": 4,
    "scale_factor_spatial": 16,
}
TEXT_TOKENS = 512  # UMT5 tokens per prompt: the Wan pipelines pad every prompt to this length
IMAGE_TOKENS = 257  # CLIP ViT-H/14 tokens of the I2V image (256 patches + the class token)
VAE_TEMPORAL = 4  # frames per latent frame after the first
VAE_SPATIAL = 8  # pixels per latent pixel (Wan 2.1's VAE)
VAE22_SPATIAL = 16  # Wan 2.2's VAE (TI2V-5B): 48 latent channels
VAE22_CHANNELS = 48


def transformer_config(model_id: str) -> dict[str, Any]:
    """A copy of the transformer configuration of a registry model (KeyError for unknown ids)."""
    return copy.deepcopy(TRANSFORMER_CONFIGS[model_id])


def transformer_class(config: dict[str, Any]) -> Any:
    """WanVACETransformer3DModel for configs with VACE layers, else WanTransformer3DModel."""
    import diffusers

    return diffusers.WanVACETransformer3DModel if "vace_layers" in config else diffusers.WanTransformer3DModel


def latent_shape(frames: int, height: int, width: int, spatial: int = VAE_SPATIAL) -> tuple[int, int, int]:
    """(latent frames, latent height, latent width) of a clip of `frames` frames at width x height
    through a VAE of `spatial` pixels per latent pixel (8: Wan 2.1's VAE; 16: Wan 2.2's)."""
    return (frames - 1) // VAE_TEMPORAL + 1, height // spatial, width // spatial


def vae_spatial_of(config: Any) -> int:
    """Pixels per latent pixel of the VAE a transformer configuration works with: the Wan 2.2
    VAE's 16 when it outputs that VAE's 48 latent channels, else Wan 2.1's 8."""
    return VAE22_SPATIAL if config["out_channels"] == VAE22_CHANNELS else VAE_SPATIAL


def build_random_transformer(config: dict[str, Any], *, device: Any, dtype: Any, seed: int = 0) -> Any:
    """The transformer of `config` with random weights, built directly on `device` in `dtype`
    (the modules diffusers keeps in float32 when loading stay in float32), in eval mode."""
    import torch

    cls = transformer_class(config)
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = cls(**config)
    finally:
        torch.set_default_dtype(previous)
    for name, module in model.named_modules():
        if any(part in name.split(".") for part in cls._keep_in_fp32_modules or ()):
            module.to(torch.float32)
    return model.eval().requires_grad_(False)


def transformer_inputs(
    config: dict[str, Any], *, frames: int, height: int, width: int, batch: int = 1, device: Any, dtype: Any
) -> dict[str, Any]:
    """Random keyword arguments of one transformer forward for a clip of that size."""
    import torch

    generator = torch.Generator(device="cpu").manual_seed(1)

    def noise(*shape: int) -> Any:
        return torch.randn(*shape, generator=generator).to(device=device, dtype=dtype)

    latent = latent_shape(frames, height, width, vae_spatial_of(config))
    inputs = {
        "hidden_states": noise(batch, config["in_channels"], *latent),
        "timestep": torch.full((batch,), 500, device=device, dtype=torch.long),
        "encoder_hidden_states": noise(batch, TEXT_TOKENS, config["text_dim"]),
        "return_dict": False,
    }
    if "vace_layers" in config:
        inputs["control_hidden_states"] = noise(batch, config["vace_in_channels"], *latent)
    if config.get("image_dim"):
        inputs["encoder_hidden_states_image"] = noise(batch, IMAGE_TOKENS, config["image_dim"])
    return inputs
