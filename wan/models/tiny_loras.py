"""Tiny random LoRA files for the tiny models, in each key format diffusers reads for Wan.

Built from the tiny transformer's layer names and sizes (wan.models.tiny), with random A/B
matrices large enough that a LoRA visibly changes the output. The formats, as
diffusers/loaders/lora_conversion_utils.py maps them to diffusers' own keys:

- `diffusers`: `transformer.blocks.0.attn1.to_q.lora_A.weight` / `lora_B.weight` (peft's names);
- `original`: the Wan repo's layer names as ComfyUI and Kijai's LoRAs have them:
  `diffusion_model.blocks.0.self_attn.q.lora_down.weight` / `lora_up.weight`, a scalar `.alpha`
  (the scale is alpha / rank), `diff_b` bias deltas, and a norm `.diff` that diffusers drops;
- `musubi`: musubi-tuner / kohya's `lora_unet_blocks_0_self_attn_q.lora_down.weight`,
  `lora_up.weight` and `.alpha`, for every attention and feed-forward layer of every block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .tiny import tiny_transformer_config

FORMATS = ("diffusers", "original", "musubi")
# (the Wan repo's name, diffusers' name, input features, output features) of a block's layers
_ATTENTION = (("q", "to_q"), ("k", "to_k"), ("v", "to_v"), ("o", "to_out.0"))


def _block_layers(dim: int, ffn: int) -> list[tuple[str, str, int, int]]:
    layers = []
    for ours, theirs in (("self_attn", "attn1"), ("cross_attn", "attn2")):
        layers += [(f"{ours}.{o}", f"{theirs}.{c}", dim, dim) for o, c in _ATTENTION]
    layers += [("ffn.0", "ffn.net.0.proj", dim, ffn), ("ffn.2", "ffn.net.2", ffn, dim)]
    return layers


def tiny_lora_state(
    kind: str = "t2v", fmt: str = "diffusers", *, rank: int = 2, seed: int = 0, blocks: int | None = None
) -> dict[str, Any]:
    """A random LoRA for the tiny transformer of `kind` (vace, t2v, i2v) in format `fmt`, on the
    first `blocks` blocks (default: all)."""
    return random_lora_state(tiny_transformer_config(kind), fmt, rank=rank, seed=seed, blocks=blocks)


def random_lora_state(
    config: dict[str, Any],
    fmt: str = "diffusers",
    *,
    rank: int = 2,
    seed: int = 0,
    blocks: int | None = None,
    scale: float = 0.5,
) -> dict[str, Any]:
    """A random LoRA for a Wan transformer of `config` (a diffusers transformer configuration) in
    format `fmt`; A and B entries are normal with standard deviation `scale`."""
    import torch

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    dim = config["num_attention_heads"] * config["attention_head_dim"]
    generator = torch.Generator().manual_seed(seed)

    def random(*shape: int) -> Any:
        return torch.randn(*shape, generator=generator) * scale

    state: dict[str, Any] = {}
    for block in range(config["num_layers"] if blocks is None else blocks):
        for original, diffusers_name, n_in, n_out in _block_layers(dim, config["ffn_dim"]):
            down, up = random(rank, n_in), random(n_out, rank)
            if fmt == "diffusers":
                prefix = f"transformer.blocks.{block}.{diffusers_name}"
                state[f"{prefix}.lora_A.weight"], state[f"{prefix}.lora_B.weight"] = down, up
            elif fmt == "original":
                prefix = f"diffusion_model.blocks.{block}.{original}"
                state[f"{prefix}.lora_down.weight"], state[f"{prefix}.lora_up.weight"] = down, up
                state[f"{prefix}.alpha"] = torch.tensor(float(rank) * 1.5)
                if original.startswith("self_attn"):
                    state[f"{prefix}.diff_b"] = random(n_out)
            else:
                prefix = f"lora_unet_blocks_{block}_{original.replace('.', '_')}"
                state[f"{prefix}.lora_down.weight"], state[f"{prefix}.lora_up.weight"] = down, up
                state[f"{prefix}.alpha"] = torch.tensor(float(rank))
        if fmt == "original":
            state[f"diffusion_model.blocks.{block}.norm3.diff"] = torch.zeros(dim)  # dropped by diffusers
    return state


def save_tiny_lora(path: str | Path, kind: str = "t2v", fmt: str = "diffusers", **options: Any) -> Path:
    """Write tiny_lora_state(kind, fmt, **options) as a .safetensors file; returns its path."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {key: value.contiguous() for key, value in tiny_lora_state(kind, fmt, **options).items()}, str(path)
    )
    return path
