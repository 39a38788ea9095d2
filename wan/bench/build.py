"""Wan pipelines with random weights for measuring: at the real sizes (the architectures of
wan.models.architectures, the UMT5-XXL text encoder, the Wan 2.1 VAE, I2V's CLIP ViT-H), built
directly on the device with no download; or the tiny models (wan.models.tiny) on the CPU.

Timing does not depend on the weights. The tokenizer is always the tiny one: the pipelines pad
every prompt to 512 tokens, so the text encoder runs at its real sequence length whatever the
words are.
"""

from __future__ import annotations

from typing import Any

from ..catalog import model_spec
from ..models.architectures import TRANSFORMER_CONFIGS, build_random_transformer, transformer_config
from ..models.loading import PIPELINE_CLASSES
from ..models.tiny import TINY_KINDS, TINY_VAE_CONFIG, build_tiny_pipeline, tiny_tokenizer

# google/umt5-xxl, the encoder of Wan 2.1's text encoder (5.68e9 parameters with its embedding)
UMT5_XXL_CONFIG: dict[str, Any] = {
    "vocab_size": 256384,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
    "pad_token_id": 0,
    "eos_token_id": 1,
    "decoder_start_token_id": 0,
}
# The image encoder of the I2V models: CLIP ViT-H/14 (open_clip's, as in the diffusers checkpoints)
CLIP_VIT_H_CONFIG: dict[str, Any] = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 16,
    "image_size": 224,
    "patch_size": 14,
    "projection_dim": 1024,
    "hidden_act": "gelu",
}
VAE_CONFIG: dict[str, Any] = {}  # diffusers' AutoencoderKLWan defaults are the Wan 2.1 VAE
TINY_OF_KIND = {layout: model for model, layout in TINY_KINDS.items()}  # (kind, experts) -> tiny id


def is_real_size(model: str) -> bool:
    """Whether a model id has a real architecture here (else it must be a tiny one)."""
    return model in TRANSFORMER_CONFIGS


def tiny_stand_in(model: str) -> str:
    """The tiny model of the same kind as `model` (itself when it is tiny)."""
    if model in TINY_KINDS:
        return model
    spec = model_spec(model)
    return TINY_OF_KIND[(spec.kind, spec.experts)]


def flow_scheduler(flow_shift: float) -> Any:
    """The Wan pipelines' UniPC scheduler in flow-prediction mode at `flow_shift`."""
    import diffusers

    return diffusers.UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        num_train_timesteps=1000,
        flow_shift=flow_shift,
    )


def _built(device: Any, dtype: Any, make: Any) -> Any:
    """`make()` with its parameters created on `device` in `dtype` (no CPU round trip)."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            return make()
    finally:
        torch.set_default_dtype(previous)


def build_text_encoder(device: Any, dtype: Any, *, seed: int = 0) -> Any:
    """The UMT5-XXL encoder with random weights."""
    import torch
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    return _built(device, dtype, lambda: UMT5EncoderModel(UMT5Config(**UMT5_XXL_CONFIG))).eval()


def build_vae(device: Any, *, tiny: bool = False, seed: int = 1) -> Any:
    """The Wan 2.1 VAE (float32, as Wan runs it) with random weights."""
    import diffusers
    import torch

    torch.manual_seed(seed)
    config = TINY_VAE_CONFIG if tiny else VAE_CONFIG
    return _built(device, torch.float32, lambda: diffusers.AutoencoderKLWan(**config)).eval()


def build_pipeline(
    model: str, *, device: Any, dtype: Any, flow_shift: float = 3.0, text_encoder: bool = True
) -> Any:
    """The pipeline of `model` with random weights: real sizes for a registry id, built on
    `device`; a tiny id builds the tiny pipeline (on the CPU, in float32, then moved)."""
    import diffusers

    if not is_real_size(model):
        kind, experts = TINY_KINDS[model]
        pipe = build_tiny_pipeline(kind, experts=experts)
        if not text_encoder:
            pipe.register_modules(text_encoder=None)
        pipe.scheduler = flow_scheduler(flow_shift)
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(device)
    spec = model_spec(model)
    kind = spec.kind
    parts: dict[str, Any] = {
        "tokenizer": tiny_tokenizer(),
        "text_encoder": build_text_encoder(device, dtype) if text_encoder else None,
        "vae": build_vae(device),
        "scheduler": flow_scheduler(flow_shift),
        "transformer": build_random_transformer(transformer_config(model), device=device, dtype=dtype),
    }
    if spec.experts == 2:  # Wan 2.2 A14B: the low-noise expert has the same architecture
        parts["transformer_2"] = build_random_transformer(
            transformer_config(model), device=device, dtype=dtype
        )
        parts["boundary_ratio"] = spec.boundary_ratio
    if kind == "i2v":
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

        parts["image_encoder"] = _built(
            device, dtype, lambda: CLIPVisionModel(CLIPVisionConfig(**CLIP_VIT_H_CONFIG))
        ).eval()
        parts["image_processor"] = CLIPImageProcessor(crop_size=224, size={"shortest_edge": 224})
    pipe = getattr(diffusers, PIPELINE_CLASSES[kind])(**parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def parameter_count(model: str) -> int:
    """Parameters of a model's transformer (counted on meta tensors: nothing is allocated)."""
    from ..models.tiny import tiny_transformer_config

    config = transformer_config(model) if is_real_size(model) else tiny_transformer_config(*TINY_KINDS[model])
    return config_parameters(config)


def sliced_config(config: dict[str, Any], blocks: int) -> dict[str, Any]:
    """A copy of a transformer configuration with only its first `blocks` blocks (VACE layers
    among them kept): every block has the real width, so per-block time and memory are the real
    model's, at a fraction of its loading time."""
    sliced = dict(config, num_layers=min(blocks, config["num_layers"]))
    if "vace_layers" in config:
        sliced["vace_layers"] = [layer for layer in config["vace_layers"] if layer < sliced["num_layers"]]
    return sliced


def config_parameters(config: dict[str, Any]) -> int:
    """Parameters of a transformer of `config` (counted on meta tensors: nothing is allocated)."""
    from accelerate import init_empty_weights

    from ..models.architectures import transformer_class

    with init_empty_weights():
        built = transformer_class(config)(**config)
    return sum(p.numel() for p in built.parameters())
