"""Speed: stock diffusers against the speed presets (with guidance batching), attention kernels,
regional torch.compile, fp8, and `python -m wan bench`'s profile at the real size."""

from __future__ import annotations

from . import Context, check

TARGET_STEPS = 50
PATH_HEADER = [
    "| path | first call s (warm-up, compile) | s/step | denoising at 50 steps, s (extrapolated) | "
    "TFLOP/s | MFU | speed-up | max latent difference | applied |",
    "|---|---|---|---|---|---|---|---|---|",
]
FORWARD_HEADER = [
    "| model | attention | seconds | TFLOP/s | MFU | difference from native |",
    "|---|---|---|---|---|---|",
]


def _paths(context: Context, model: str) -> list[str]:
    from ..gpu import path_rows

    scale = context.scale
    steps = 1 if context.dry_run else 3
    rows = path_rows(scale, model, ("quality", "fast"), steps=steps, target=TARGET_STEPS, peak=context.peak())
    return [
        f"{scale.label(model)}, {scale.frames} frames at {scale.width}x{scale.height}, guidance 5: {steps} "
        f"steps measured after a 1-step warm-up call, per-step time extrapolated to {TARGET_STEPS} steps; "
        "MFU of both guidance passes against the measured matmul peak",
        "",
        *PATH_HEADER,
        *rows,
    ]


@check("t2v_presets", "T2V-1.3B: stock diffusers vs quality vs fast", seconds=240, expected=130, priority=10)
def t2v_presets(context: Context) -> list[str]:
    """Stock diffusers, quality (guidance batched and not) and fast on T2V-1.3B."""
    return _paths(context, "t2v-1.3b")


@check(
    "vace_presets", "VACE-1.3B: stock diffusers vs quality vs fast", seconds=200, expected=130, priority=11
)
def vace_presets(context: Context) -> list[str]:
    """Stock diffusers, quality (guidance batched and not) and fast on VACE-1.3B."""
    return _paths(context, "vace-1.3b")


@check("fp8", "fp8 on T2V-1.3B: torchao compute, layerwise storage", seconds=90, expected=30, priority=30)
def fp8(context: Context) -> list[str]:
    """One forward in bf16, with torchao fp8 compute and with fp8 storage."""
    from ..gpu import fp8_rows

    rows = fp8_rows(context.scale, "t2v-1.3b", context.peak(), repeats=3)
    header = [
        "| model | weights | seconds | TFLOP/s | MFU | difference from bf16 | transformer GiB |",
        "|---|---|---|---|---|---|---|",
    ]
    lines = [*header, *rows]
    if context.dry_run:
        lines.append(context.cuda_only("fp8 compute (torchao float8 kernels)"))
    return lines


@check(
    "profile", "python -m wan bench t2v-1.3b: every stage of one clip", seconds=180, expected=70, priority=40
)
def profile(context: Context) -> list[str]:
    """The bench command's profile at the real size (text encoder included): stages, MFU, advice."""
    from ...config import WanConfig
    from ...progress import STAGE_HEADERS, stage_rows
    from ..profile import profile_config, run_profile, setup_profile

    scale = context.scale
    cuda = scale.device.type == "cuda"
    size, frames = ((scale.width, scale.height), max(scale.frames, 5)) if context.dry_run else (None, None)
    config, notes = profile_config(WanConfig(model="t2v-1.3b"), cuda=cuda, size=size, frames=frames)
    setup = setup_profile(config, device=scale.device, steps=3, asked_model="t2v-1.3b", notes=notes)
    result = run_profile(setup, peak_flops=context.peak())
    advice = result["recommendations"]
    mfu = f"{result['mfu']:.1%}" if result["mfu"] is not None else "n/a"
    per_frame = result["seconds_per_output_frame"]
    return [
        f"| {' | '.join(STAGE_HEADERS)} |",
        "|" + "---|" * len(STAGE_HEADERS),
        *(f"| {' | '.join(str(cell) for cell in row)} |" for row in stage_rows(result["stages"])),
        "",
        f"- steps {result['step_seconds']} s; steady {result['seconds_per_step']} s/step; MFU {mfu}",
        f"- seconds per output frame: {per_frame['measured']} as run, {per_frame['target_steps']} at "
        f"{result['steps']['target']} steps (extrapolated); peak memory: {result['stage_memory']}",
        f"- recommended: memory {advice['memory_preset']} ({advice['memory_reason']}); "
        f"speed {advice['speed_preset']}",
        *(f"- note: {note}" for note in result["notes"]),
    ]


@check("attention", "Attention kernels, one T2V-1.3B forward", seconds=90, expected=30, priority=50)
def attention(context: Context) -> list[str]:
    """One forward per attention kernel, and batch 2 against two batch-1 forwards."""
    from ..gpu import forward_rows

    return [*FORWARD_HEADER, *forward_rows(context.scale, "t2v-1.3b", context.peak(), repeats=3)]


@check("compile", "Regional torch.compile, one T2V-1.3B forward", seconds=120, expected=45, priority=60)
def compile_forward(context: Context) -> list[str]:
    """A forward eager and with the repeated blocks compiled (first call and later calls)."""
    from ..gpu import compile_rows

    lines = [*FORWARD_HEADER, *compile_rows(context.scale, "t2v-1.3b", context.peak(), repeats=3)]
    if context.dry_run:
        lines.append("- on the CPU torch.compile runs without Triton: its figure says nothing about a GPU")
    return lines
