"""LoRAs on T2V-1.3B at the real size: fused against an adapter (a scheduled weight), the adapter
under the CUDA-only speed paths, regional torch.compile when the weight changes, and the lightx2v
preset's fixed-step scheduler on the device."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from . import Context, check

MODEL = "t2v-1.3b"
RANK = 32


def _with_lora(context: Context, measure) -> list[str]:
    from ..loras import LORA_HEADER, write_random_lora

    scale = context.scale
    rank = 2 if scale.small else RANK
    folder = Path(tempfile.mkdtemp(prefix="wan-check-loras-"))
    try:
        lora = write_random_lora(scale, MODEL, folder / f"rank{rank}.safetensors", rank=rank)
        rows = measure(lora)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [
        f"{scale.label(MODEL)}, random weights, one forward at {scale.frames} frames of "
        f"{scale.width}x{scale.height}; a random LoRA of rank {rank} on every attention and feed-forward "
        "layer, loaded by wan.models.lora (fused at one weight, an adapter when the weight is scheduled):",
        "",
        *LORA_HEADER,
        *rows,
    ]


@check(
    "loras",
    "LoRA fused vs adapter on T2V-1.3B; the adapter with fp8, group offloading",
    seconds=150,
    expected=35,
    needs=("peft",),
    priority=35,
)
def loras(context: Context) -> list[str]:
    """Forward seconds stock, fused and adapter; the adapter with fp8 storage, fp8 compute and
    group offloading; the fixed-step scheduler's determinism."""
    from ..loras import fixed_steps_row, lora_rows

    repeats = 1 if context.dry_run else 2
    lines = _with_lora(
        context,
        lambda lora: [
            *lora_rows(context.scale, MODEL, lora, repeats=repeats)[0],
            fixed_steps_row(context.scale),
        ],
    )
    if context.dry_run:
        lines.append(context.cuda_only("torchao fp8 compute and group offloading with CUDA streams"))
    return lines


@check(
    "lora_compile",
    "A scheduled LoRA under regional torch.compile on T2V-1.3B",
    seconds=240,
    expected=75,
    needs=("peft",),
    priority=45,
)
def lora_compile(context: Context) -> list[str]:
    """The adapter compiled: first call, the call after its weight changed, later calls."""
    from ..loras import lora_compile_rows

    repeats = 1 if context.dry_run else 3
    lines = _with_lora(context, lambda lora: lora_compile_rows(context.scale, MODEL, lora, repeats=repeats))
    if context.dry_run:
        lines.append(context.cuda_only("Inductor (the dry run compiles with the eager backend)"))
    return lines
