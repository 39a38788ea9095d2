"""The machine: GPU, versions, which of the wheels the check uses are here; the matmul peak."""

from __future__ import annotations

from . import Context, check


@check("environment", "The machine and its packages", seconds=60, expected=5, priority=0)
def environment(context: Context) -> list[str]:
    """GPU, compute capability, memory, torch/CUDA/cuDNN, Triton, and the packages found."""
    import torch

    from ...models.speed import DeviceInfo
    from ..gpu_check import WHEELS
    from ..record import installed

    device = context.scale.device
    info = DeviceInfo.probe(device)
    lines = [
        f"- torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"
    ]
    if device.type == "cuda":
        memory = torch.cuda.get_device_properties(device).total_memory / 1024**3
        lines.append(
            f"- {info.name}, compute capability {info.capability[0]}.{info.capability[1]}, {memory:.0f} GiB; "
            f"Triton {'yes' if info.triton else 'no'}, fp8 tensor cores {'yes' if info.fp8_compute else 'no'}"
        )
    else:
        lines.append(context.cuda_only("GPU description"))
    found = [f"{name} {installed(name)}" for name in WHEELS if installed(name)]
    missing = [name for name in WHEELS if not installed(name)]
    lines.append(f"- packages: {', '.join(found)}")
    lines.append(
        f"- missing: {', '.join(missing) if missing else 'none'} (the checks that need them are skipped)"
    )
    return lines


@check("matmul_peak", "Matmul peak (the denominator of MFU)", seconds=60, expected=10, priority=1)
def peak(context: Context) -> list[str]:
    """The measured matmul FLOP/s in the run's dtype."""
    scale = context.scale
    flops = context.peak()
    dtype = str(scale.dtype).removeprefix("torch.")
    return [
        f"- {dtype} {scale.matmul_size}x{scale.matmul_size} torch.matmul loop: {flops / 1e12:.3g} TFLOP/s"
    ]
