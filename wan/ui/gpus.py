"""The tab's "GPUs" panel: each GPU the workers use, its memory and the preset `auto` picks."""

from __future__ import annotations

from typing import Any


def gpu_markdown(info: dict[str, Any]) -> str:
    """The GPUs of a /system answer as Markdown, one line each (no GPU: says the CPU renders)."""
    gpus = info.get("gpus") or []
    workers = (info.get("service") or {}).get("workers") or []
    if not gpus and info.get("gpu_probe"):
        lines = [f"Looking for GPUs: {info['gpu_probe']}."]
    elif not gpus:
        lines = ["No GPU found (torch sees no CUDA device where the workers run): jobs render on the CPU."]
    else:
        lines = [
            f"- **GPU {gpu.get('physical_index', gpu.get('index'))}: {gpu.get('name')}** — "
            f"{gpu.get('vram_gb', 0):.1f} GiB, {gpu.get('free_gb', 0):.1f} GiB free, "
            f"compute capability {gpu.get('compute_capability')}, memory preset *auto* → "
            f"{gpu.get('memory_preset')}"
            for gpu in gpus
        ]
    for worker in workers:
        loaded, last = worker.get("loaded"), worker.get("model")
        model = f"keeps {loaded[0]} loaded" if loaded else f"last job: {last}" if last else "no job yet"
        where = worker.get("device", "?")
        lines.append(f"- worker `{worker.get('id')}` on {where}: {worker.get('state')}, {model}")
    return "\n".join(lines)


def service_gpus(service: Any) -> str:
    """The panel's text for a JobService (its /system answer)."""
    return gpu_markdown(service.system_info())
