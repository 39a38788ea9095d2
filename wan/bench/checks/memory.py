"""Memory: each memory preset's peak GPU memory, a 14B model's step under the aggressive preset,
and the VAE decode."""

from __future__ import annotations

from . import Context, check


@check("memory_presets", "Memory presets: peak GPU memory, VACE-1.3B", seconds=180, expected=90, priority=20)
def memory_presets(context: Context) -> list[str]:
    """One step and the decode of VACE-1.3B under each memory preset."""
    from ..gpu import memory_rows

    scale = context.scale
    return [
        f"{scale.label('vace-1.3b')}, {scale.frames} frames at {scale.width}x{scale.height}, one step with "
        "guidance and the VAE decode, weights starting on the CPU (text encoder not included):",
        "",
        "| preset | placement | guidance | seconds | peak GiB |",
        "|---|---|---|---|---|",
        *memory_rows(scale, "vace-1.3b", steps=1),
    ]


@check(
    "aggressive_14b", "T2V-14B: one step under the aggressive preset", seconds=200, expected=80, priority=25
)
def aggressive_14b(context: Context) -> list[str]:
    """One denoising step of T2V-14B with group offloading (leaf level, CUDA streams)."""
    from ..gpu import single_step_line

    return [single_step_line(context.scale, "t2v-14b", "aggressive")]


@check(
    "vae_decode", "VAE decode of one clip, cuDNN autotuning off and on", seconds=90, expected=25, priority=70
)
def vae_decode(context: Context) -> list[str]:
    """The VAE decode alone."""
    from ..gpu import vae_lines

    return vae_lines(context.scale)
