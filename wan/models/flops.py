"""Floating-point operations of one Wan transformer forward, counted from its configuration.

Notation: L video tokens = latent frames x (latent height / 2) x (latent width / 2) (patch 1x2x2
over the VAE's 4x8x8 compression; 4x16x16 for Wan 2.2's VAE), d = heads x head dim, f = FFN width,
T = 512 text tokens, I = 257 image tokens (I2V only), C = input channels, P = 1*2*2 = 4 pixels
per patch. A matmul of an (m x k) by a (k x n) matrix is 2mkn FLOP (one multiply and one add per
term).

Per transformer block:
- self-attention Q, K, V and output projections: 4 x 2Ld^2 = 8Ld^2;
- self-attention scores QK^T and the weighted sum of values: 2L^2d + 2L^2d = 4L^2d (the heads
  together span d);
- cross-attention: Q and output projections 4Ld^2, K and V of the text 4Td^2, scores and values
  4LTd; I2V adds K and V of the image tokens 4Id^2 and their scores and values 4LId;
- feed-forward, d -> f -> d: 4Ldf.
A VACE block is a transformer block on the control stream, plus an output projection 2Ld^2
(the first one also an input projection 2Ld^2).
Once per forward: the patch embeddings 2LCPd (and 2L*96*P*d for VACE's control input), the text
projection 2T(4096d + d^2), the time embedding 2(256d + 7d^2), the I2V image MLP
2I(1280^2 + 1280d) and the output projection 2Ld*16P. Norms, modulation and rotary
embeddings are elementwise and not counted.

T2V-1.3B (d=1536, f=8960, 30 blocks) at 81 frames of 832x480: L = 21 x 30 x 52 = 32,760 and
one forward is 2.83e14 FLOP, of which the attention scores and values are 70 %; VACE-1.3B adds
15 VACE blocks: 4.27e14.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .architectures import IMAGE_TOKENS, TEXT_TOKENS, latent_shape, vae_spatial_of


@dataclass(frozen=True)
class FlopCount:
    """FLOP of one transformer forward, by kind of operation, and the token counts behind it."""

    parts: Mapping[str, float]
    tokens: int
    text_tokens: int

    @property
    def total(self) -> float:
        """All counted FLOP."""
        return float(sum(self.parts.values()))

    @property
    def attention_share(self) -> float:
        """The share of self-attention scores and values (the L^2 terms) in the total."""
        return self.parts["self_attention_scores"] / self.total


def video_tokens(config: Mapping[str, Any], frames: int, height: int, width: int) -> int:
    """L: the transformer's sequence length for a clip of `frames` frames at width x height."""
    latent_frames, latent_height, latent_width = latent_shape(frames, height, width, vae_spatial_of(config))
    p_t, p_h, p_w = config["patch_size"]
    return (latent_frames // p_t) * (latent_height // p_h) * (latent_width // p_w)


def _block_parts(tokens: int, d: int, f: int, text: int, image: int) -> dict[str, float]:
    cross = 4 * tokens * d * d + 4 * text * d * d + 4 * tokens * text * d
    if image:
        cross += 4 * image * d * d + 4 * tokens * image * d
    return {
        "self_attention_projections": 8 * tokens * d * d,
        "self_attention_scores": 4 * tokens * tokens * d,
        "cross_attention": cross,
        "feed_forward": 4 * tokens * d * f,
    }


def transformer_flops(
    config: Mapping[str, Any], frames: int, height: int, width: int, *, batch: int = 1
) -> FlopCount:
    """FLOP of one forward of the transformer `config` on a clip (see the module doc)."""
    d = config["num_attention_heads"] * config["attention_head_dim"]
    f = config["ffn_dim"]
    patch = 1
    for size in config["patch_size"]:
        patch *= size
    tokens = video_tokens(config, frames, height, width)
    image = IMAGE_TOKENS if config.get("image_dim") else 0
    vace_blocks = len(config.get("vace_layers", ()))
    blocks = config["num_layers"] + vace_blocks
    parts = {name: value * blocks for name, value in _block_parts(tokens, d, f, TEXT_TOKENS, image).items()}
    parts["embeddings"] = (
        2 * tokens * config["in_channels"] * patch * d
        + 2 * TEXT_TOKENS * (config["text_dim"] * d + d * d)
        + 2 * (config["freq_dim"] * d + 7 * d * d)
    )
    if image:
        image_dim = config["image_dim"]
        parts["embeddings"] += 2 * image * (image_dim * image_dim + image_dim * d)
    if vace_blocks:
        parts["vace_projections"] = 2 * tokens * d * d * (vace_blocks + 1)
        parts["embeddings"] += 2 * tokens * config["vace_in_channels"] * patch * d
    parts["output"] = 2 * tokens * d * config["out_channels"] * patch
    return FlopCount({k: float(v * batch) for k, v in parts.items()}, tokens * batch, TEXT_TOKENS)
