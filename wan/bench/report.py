"""A profile (wan.bench.profile) as a table in text, as JSON, and as a per-stage chart (PNG)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..progress import STAGE_HEADERS, format_bytes, stage_rows


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def format_profile(result: Mapping[str, Any]) -> str:
    """The profile for a terminal: what ran, the stage table, steps, MFU, recommendations, notes."""
    size, steps, denoising = result["size"], result["steps"], result["denoising_seconds"]
    each = ", ".join(f"{s:.3g}" for s in result["step_seconds"])
    lines = [
        f"{result['model']} on {result['device_name'] or result['device']} ({result['dtype']}), "
        f"{size['width']}x{size['height']}, {size['frames']} frames -> {size['output_frames']} output "
        f"frames at {size['output_fps']:g} fps, guidance {result['guidance_scale']:g}, "
        f"memory {result['memory_preset']}",
        "",
        *_table(STAGE_HEADERS, stage_rows(result["stages"])),
        f"(peak memory: {result['stage_memory']})",
        "",
        f"steps: {each} s; steady {result['seconds_per_step']} s/step",
    ]
    if steps["extrapolated"]:
        lines.append(
            f"denoising: {denoising['measured']:.3g} s for {steps['measured']} steps measured; "
            f"{denoising['target_steps']:.3g} s for {steps['target']} steps (extrapolated)"
        )
    per_frame = result["seconds_per_output_frame"]
    label = f"{steps['target']} steps, extrapolated" if steps["extrapolated"] else f"{steps['target']} steps"
    lines.append(
        f"seconds per output frame (without loading): {per_frame['measured']:.3g} as run; "
        f"{per_frame['target_steps']:.3g} at {label}"
    )
    if result.get("mfu") is not None:
        lines.append(
            f"transformer: {result['flop_per_step']:.3g} FLOP per step, "
            f"{result['achieved_flops'] / 1e12:.3g} TFLOP/s "
            f"= MFU {result['mfu']:.1%} of the measured {result['dtype']} matmul peak "
            f"{result['matmul_peak_flops'] / 1e12:.3g} TFLOP/s"
        )
    advice = result["recommendations"]
    lines += [
        "",
        f"recommended memory preset: {advice['memory_preset']} ({advice['memory_reason']})",
        f"recommended speed preset: {advice['speed_preset']}",
        *(f"  - {line}" for line in advice["speed_notes"]),
    ]
    if result["notes"]:
        lines += ["", *(f"note: {note}" for note in result["notes"])]
    return "\n".join(lines)


def write_json(result: Mapping[str, Any], path: str | Path) -> Path:
    """The profile as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path


def plot_profile(result: Mapping[str, Any], path: str | Path) -> Path:
    """A PNG: seconds per stage (denoising also at the settings' steps when extrapolated) and the
    peak memory of each stage (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("the chart needs matplotlib: pip install matplotlib") from None
    stages = result["stages"]
    names = list(stages)
    seconds = [stages[name]["seconds"] for name in names]
    peaks = [(stages[name].get("peak_memory_bytes") or 0) / 1024**3 for name in names]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 0.45 * len(names) + 1.8), sharey=True)
    positions = list(range(len(names)))
    left.barh(positions, seconds, color="C0", label="measured")
    if result["steps"]["extrapolated"] and "denoising" in names:
        index = names.index("denoising")
        extra = result["denoising_seconds"]["target_steps"] - result["denoising_seconds"]["measured"]
        label = f"extrapolated to {result['steps']['target']} steps"
        left.barh([index], [extra], left=[seconds[index]], color="C0", alpha=0.35, label=label)
        left.legend(loc="lower right", fontsize=8)
    left.set_yticks(positions, names)
    left.invert_yaxis()
    left.set_xlabel("seconds")
    right.barh(positions, peaks, color="C1")
    cuda = str(result["device"]).startswith("cuda")
    right.set_xlabel("peak CUDA memory allocated (GiB)" if cuda else "peak process memory, resident (GiB)")
    size = result["size"]
    largest = max((stages[name].get("peak_memory_bytes") or 0 for name in names), default=None)
    where = result["device_name"] or result["device"]
    figure.suptitle(
        f"{result['model']} on {where}: {size['width']}x{size['height']}, {size['frames']} frames, "
        f"{result['steps']['measured']} steps measured; peak {format_bytes(largest)}",
        fontsize=9,
    )
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
