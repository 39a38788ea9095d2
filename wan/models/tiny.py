"""Tiny random Wan models built with the real diffusers / transformers classes.

They exist for tests and for checking an install (`python -m wan generate SETTINGS --model
tiny`): saved with save_pretrained and loaded through the same from_pretrained path as the
real checkpoints, they exercise every step of generation in well under a second per clip on a
CPU. Their weights are random, so their output is noise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .architectures import VAE22_CONFIG, transformer_class

# Words the tiny tokenizer knows; anything else becomes <unk>.
_VOCABULARY = [
    "<pad>",
    "</s>",
    "<unk>",
    ",",
    ".",
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "with",
    "and",
    "to",
    "camera",
    "movement",
    "static",
    "subtle",
    "gentle",
    "moderate",
    "strong",
    "panning",
    "moving",
    "dolly",
    "tilting",
    "rotating",
    "rolling",
    "left",
    "right",
    "up",
    "down",
    "forward",
    "backward",
    "clockwise",
    "counter-clockwise",
    "sustained",
    "extended",
    "brief",
    "forest",
    "castle",
    "misty",
    "dawn",
    "light",
]
# id -> (kind, experts); the two-expert ones are Wan 2.2 A14B's pipelines in small
TINY_KINDS = {
    "tiny": ("vace", 1),
    "tiny-t2v": ("t2v", 1),
    "tiny-i2v": ("i2v", 1),
    "tiny-t2v-2experts": ("t2v", 2),
    "tiny-i2v-2experts": ("i2v", 2),
    "tiny-vace-2experts": ("vace", 2),
    "tiny-ti2v": ("ti2v", 1),
}
# where the experts part, as in the Wan 2.2 configs: 0.9 for I2V, 0.875 for T2V (and VACE-Fun)
BOUNDARY_RATIOS = {"i2v": 0.9, "t2v": 0.875, "vace": 0.875}
TEXT_DIM = 32


def tiny_tokenizer():
    """The tiny word-level tokenizer (padding every prompt to the pipelines' 512 tokens, it also
    feeds the real text encoder's architecture in benchmarks)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocabulary = {word: index for index, word in enumerate(_VOCABULARY)}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def _text_encoder():
    from transformers import UMT5Config, UMT5EncoderModel

    config = UMT5Config(
        vocab_size=len(_VOCABULARY),
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return UMT5EncoderModel(config)


def tiny_transformer_config(kind: str, experts: int = 1) -> dict:
    """The configuration of the tiny transformer of `kind` (vace, t2v, i2v or ti2v); a Wan 2.2
    I2V expert (`experts` 2) takes the image as latents only, without CLIP features."""
    shared = {
        "patch_size": (1, 2, 2),
        "num_attention_heads": 2,
        "attention_head_dim": 12,
        "out_channels": 16,
        "text_dim": TEXT_DIM,
        "freq_dim": 256,
        "ffn_dim": 32,
        "cross_attn_norm": True,
        "qk_norm": "rms_norm_across_heads",
        "rope_max_seq_len": 1024,  # the real models' value: any frame size works
    }
    if kind == "vace":
        return {"in_channels": 16, "num_layers": 3, "vace_layers": [0, 2], "vace_in_channels": 96, **shared}
    if kind == "i2v" and experts == 2:  # 16 latent + 4 mask + 16 image-latent channels
        return {"in_channels": 36, "num_layers": 2, **shared}
    if kind == "i2v":  # the same, and CLIP features of width 4
        return {"in_channels": 36, "num_layers": 2, "image_dim": 4, "added_kv_proj_dim": 24, **shared}
    if kind == "ti2v":  # the Wan 2.2 VAE's 48 latent channels in and out
        return {**shared, "in_channels": TINY_VAE22_CONFIG["z_dim"], "out_channels": 48, "num_layers": 2}
    return {"in_channels": 16, "num_layers": 2, **shared}


# The Wan VAE's architecture with 3 base channels instead of 96.
TINY_VAE_CONFIG = {
    "base_dim": 3,
    "z_dim": 16,
    "dim_mult": [1, 1, 1, 1],
    "num_res_blocks": 1,
    "temperal_downsample": [False, True, True],
}


# The Wan 2.2 VAE's architecture (residual, 2x2 patches, 16x spatial, 48 latent channels) with
# 4 base channels instead of 160 (and 256 for the decoder).
TINY_VAE22_CONFIG = {
    **VAE22_CONFIG,
    "base_dim": 4,
    "decoder_base_dim": 4,
    "dim_mult": [1, 1, 1, 1],
    "num_res_blocks": 1,
    "latents_mean": [0.0] * VAE22_CONFIG["z_dim"],
    "latents_std": [1.0] * VAE22_CONFIG["z_dim"],
}


def _transformer(kind: str, experts: int = 1):
    config = tiny_transformer_config(kind, experts)
    return transformer_class(config)(**config)


def build_tiny_pipeline(kind: str, seed: int = 0, *, experts: int = 1):
    """A tiny random pipeline of `kind` (vace, t2v, i2v or ti2v) with the real classes; with
    `experts` 2, a second transformer for the low-noise steps (Wan 2.2 A14B's layout)."""
    import torch

    from .host_compat import prepare_diffusers

    prepare_diffusers()
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler

    torch.manual_seed(seed)
    parts = {
        "tokenizer": tiny_tokenizer(),
        "text_encoder": _text_encoder(),
        "vae": AutoencoderKLWan(**(TINY_VAE22_CONFIG if kind == "ti2v" else TINY_VAE_CONFIG)),
        "scheduler": UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=3.0
        ),
        "transformer": _transformer(kind, experts),
    }
    if experts == 2:
        parts |= {"transformer_2": _transformer(kind, experts), "boundary_ratio": BOUNDARY_RATIOS[kind]}
    if kind == "vace":
        from diffusers import WanVACEPipeline

        return WanVACEPipeline(**parts)
    if kind == "i2v" and experts == 2:
        from diffusers import WanImageToVideoPipeline

        return WanImageToVideoPipeline(**parts)
    if kind == "ti2v":
        from diffusers import WanPipeline

        return WanPipeline(**parts, expand_timesteps=True)
    if kind == "i2v":
        from diffusers import WanImageToVideoPipeline
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

        encoder = CLIPVisionModel(
            CLIPVisionConfig(
                hidden_size=4,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=32,
                intermediate_size=16,
                patch_size=4,
            )
        )
        processor = CLIPImageProcessor(crop_size=32, size={"shortest_edge": 32})
        return WanImageToVideoPipeline(image_encoder=encoder, image_processor=processor, **parts)
    from diffusers import WanPipeline

    return WanPipeline(**parts)


def build_once(folder: Path, marker: str, save: Callable[[Path], None]) -> Path:
    """`folder`, after `save` has written a model into it unless `folder/marker` exists; the
    model is saved to a staging folder first, so an interrupted build is never taken for one."""
    folder = Path(folder)
    if (folder / marker).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(folder.name + ".partial")
    save(staging)
    staging.replace(folder)
    return folder


def ensure_tiny_model(model_id: str, folder: Path) -> Path:
    """Build and save the tiny model `model_id` into `folder` unless it is there already."""
    return build_once(
        folder,
        "model_index.json",
        lambda staging: build_tiny_pipeline(
            TINY_KINDS[model_id][0], experts=TINY_KINDS[model_id][1]
        ).save_pretrained(staging),
    )
