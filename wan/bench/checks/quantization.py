"""Quantized weights: bitsandbytes NF4 and int8, int8_torchao and fp8 storage against bf16 on a
slice of a Wan 2.2 A14B expert at the real width (the whole expert's figures extrapolated), and a
GGUF Q8_0 file loaded as a user's would be. The whole 14B expert and the auto placement under a
capped GPU take longer than the check's budget: benchmarks/bench_gpu_weights.py measures them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from . import Context, check

MODEL = "t2v-a14b"
BLOCKS = 4  # of 40: one tenth of an expert, about 1.6e9 parameters (3.3 GB in bf16)
GGUF_BLOCKS = 2  # writing Q8_0 goes through numpy at about 200 MB/s of float32 weights


def _lines(context: Context, blocks: int, formats: list, *, gguf: bool = False) -> list[str]:
    from ...models.quantization import Weights
    from ..weights import WEIGHTS_HEADER, save_random_transformer, weights_rows, write_gguf_file

    scale = context.scale
    folder = Path(tempfile.mkdtemp(prefix="wan-check-weights-"))
    try:
        saved = save_random_transformer(scale, MODEL, folder, blocks=blocks)
        chosen = [Weights(name) for name in formats]
        notes = []
        if gguf:
            path = folder / "transformer.gguf"
            counts = write_gguf_file(saved, path)
            chosen.append(Weights("gguf", (str(path),)))
            notes.append(
                f"- GGUF: {counts.get('Q8_0', 0)} tensors in Q8_0, {counts.get('F32', 0)} in F32, "
                f"{path.stat().st_size / 1024**3:.2f} GiB; dequantized by diffusers' torch code (its CUDA "
                "kernels, DIFFUSERS_GGUF_CUDA_KERNELS, need the `kernels` package and a download: not run)"
            )
        size = f"{scale.frames} frames at {scale.width}x{scale.height}"
        lines = [
            f"{saved.description()}; one forward of {size} in {str(scale.dtype).removeprefix('torch.')} "
            "compute, each format loaded from the saved folder through wan.models.quantization; "
            "difference relative to the bf16 output's largest value:",
            "",
            *WEIGHTS_HEADER,
            *weights_rows(scale, saved, chosen),
            *notes,
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return lines


@check(
    "weights",
    f"bf16, fp8, int8_torchao, bitsandbytes int8 and nf4 on {BLOCKS} of 40 blocks of an A14B expert",
    seconds=180,
    expected=50,
    priority=32,
)
def weights(context: Context) -> list[str]:
    """Load seconds, GPU memory, one forward and its difference from bf16 for each format."""
    from ..weights import FORMATS

    lines = _lines(context, BLOCKS, list(FORMATS))
    if context.dry_run:
        lines.append(context.cuda_only("bitsandbytes int8 and nf4 (diffusers runs them on CUDA only)"))
    return lines


@check(
    "gguf",
    f"A GGUF Q8_0 file of {GGUF_BLOCKS} blocks of a Wan 2.2 A14B expert against bf16",
    seconds=150,
    expected=40,
    needs=("gguf",),
    priority=65,
)
def gguf(context: Context) -> list[str]:
    """The GGUF file written in the published layout, loaded with from_single_file, one forward."""
    return _lines(context, GGUF_BLOCKS, ["bf16"], gguf=True)
