"""A PNG of the camera curves and the movement found per segment (needs matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .camera import CameraPath
from .result import MovementAnalysis


def plot_camera(
    path: CameraPath, segments: Sequence[MovementAnalysis], filename: str | Path, *, width: float = 11.0
) -> Path:
    """Draw each channel's rate (smooth movement and shake) with the segment boundaries;
    `width` in inches (a narrow plot for a side panel keeps its text readable)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("the movement plot needs matplotlib: pip install matplotlib") from None
    channels = path.channels
    rows = max(len(channels), 1)
    row_height = 1.7 if width >= 8 else 1.25
    figure, axes = plt.subplots(rows, 1, figsize=(width, row_height * rows + 0.8), sharex=True, squeeze=False)
    frames = np.arange(path.frames)
    for axis, channel in zip(axes[:, 0], channels, strict=False):
        shake = path.shakify_rates[channel.schedule] + path.jitter[channel.schedule]
        axis.plot(frames, shake, color="0.75", linewidth=0.8, label="fast part (shake, jitter)")
        axis.plot(frames, path.smooth[channel.schedule], color="C0", linewidth=1.6, label="movement")
        axis.axhline(0, color="0.5", linewidth=0.5)
        unit = {"screen": "widths/s", "dolly": "log/s", "roll": "deg/s"}[channel.measure]
        axis.set_ylabel(f"{channel.kind}\n({channel.positive} +)\n{unit}", fontsize=8)
        for segment in segments[1:]:
            axis.axvline(segment.start_frame, color="C3", linewidth=0.8, linestyle="--")
    axes[0, 0].legend(loc="upper right", fontsize=7)
    axes[0, 0].set_title(
        "\n".join(f"{s.start_frame}-{s.end_frame - 1}: {s.description}" for s in segments[:6]),
        fontsize=7,
        loc="left",
    )
    axes[-1, 0].set_xlabel(f"frame ({path.mode}, {path.fps:g} fps)")
    figure.tight_layout()
    target = Path(filename)
    figure.savefig(target, dpi=110)
    plt.close(figure)
    return target
