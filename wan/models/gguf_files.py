"""Writing a Wan transformer into a GGUF file the way the published Wan GGUF files are laid out:
the original Wan checkpoint's tensor names (`blocks.0.self_attn.q.weight`, `head.modulation`, ...),
which diffusers' single-file loader converts back (convert_wan_transformer_to_diffusers), 2-D
weights whose rows fit the quantization blocks in a quantized type and everything else in F32.

The tests write a tiny random transformer this way and load it through the same code as a real
file (wan.models.quantization); it also turns a diffusers transformer of one's own into a GGUF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# diffusers name part -> original Wan name part (the inverse of diffusers' renames), applied in order
_RENAMES = (
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("condition_embedder.image_embedder.norm1", "img_emb.proj.0"),
    ("condition_embedder.image_embedder.ff.net.0.proj", "img_emb.proj.1"),
    ("condition_embedder.image_embedder.ff.net.2", "img_emb.proj.3"),
    ("condition_embedder.image_embedder.norm2", "img_emb.proj.4"),
    (".attn1.", ".self_attn."),
    (".attn2.", ".cross_attn."),
    (".to_out.0.", ".o."),
    (".to_q.", ".q."),
    (".to_k.", ".k."),
    (".to_v.", ".v."),
    (".add_k_proj.", ".k_img."),
    (".add_v_proj.", ".v_img."),
    (".norm_added_k.", ".norm_k_img."),
    ("ffn.net.0.proj", "ffn.0"),
    ("ffn.net.2", "ffn.2"),
)
# inside a block: diffusers swapped the original's norm2 and norm3, and named VACE's projections
_BLOCK_PARTS = {"norm2": "norm3", "norm3": "norm2", "proj_in": "before_proj", "proj_out": "after_proj"}
QUANTIZABLE_TYPES = ("Q8_0", "Q4_0")


def original_name(key: str) -> str:
    """The original Wan checkpoint's name of a diffusers WanTransformer3DModel state-dict key."""
    for diffusers_part, original_part in _RENAMES:
        key = key.replace(diffusers_part, original_part)
    parts = key.split(".")
    if parts[0] == "scale_shift_table":
        return "head.modulation"
    if parts[0] == "proj_out":
        return ".".join(["head.head", *parts[1:]])
    if parts[-1] == "scale_shift_table":
        parts[-1] = "modulation"
    return ".".join([parts[0], *(_BLOCK_PARTS.get(part, part) for part in parts[1:])])


def write_gguf(transformer: Any, path: str | Path, *, quantization: str = "Q8_0") -> dict[str, int]:
    """Write `transformer`'s weights to `path`; returns how many tensors went in each GGUF type."""
    import gguf
    import numpy as np

    if quantization not in QUANTIZABLE_TYPES:
        raise ValueError(f"quantization must be one of {', '.join(QUANTIZABLE_TYPES)}")
    qtype = getattr(gguf.GGMLQuantizationType, quantization)
    block = gguf.GGML_QUANT_SIZES[qtype][0]
    writer = gguf.GGUFWriter(str(path), "wan")
    counts = {quantization: 0, "F32": 0}
    for key, tensor in transformer.state_dict().items():
        values = tensor.detach().float().cpu().numpy()
        name = original_name(key)
        if values.ndim == 2 and values.shape[-1] % block == 0:
            writer.add_tensor(name, gguf.quants.quantize(values, qtype), raw_dtype=qtype)
            counts[quantization] += 1
        else:
            writer.add_tensor(name, values.astype(np.float32))
            counts["F32"] += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return counts
