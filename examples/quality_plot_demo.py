"""Makes the quality plot shown in README.md (docs/quality-plot.png) from a synthetic video: three
"clips" of a slow pan, the second with a brightness flicker and a hard seam where the third starts.

    python examples/quality_plot_demo.py  # writes docs/quality-demo.mp4 (temporary) and the plot
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from wan.cli import main
from wan.post.encode import write_mp4
from wan.post.synthetic import panning_video

ROOT = Path(__file__).resolve().parent.parent


def demo_frames() -> list[np.ndarray]:
    """72 frames, 320x176: a pan; frames 30-32 flicker brighter; a jump at frame 48."""
    frames = [frame.astype(np.int16) for frame in panning_video(range(72), 176, 320, speed=(1.5, 0.3))]
    for index in (30, 32):
        frames[index] += 14
    for index in range(48, 72):  # the third clip starts somewhere else: a seam
        frames[index] = np.roll(frames[index], 60, axis=1) + 10
    return [np.clip(frame, 0, 255).astype(np.uint8) for frame in frames]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "demo.mp4"
        write_mp4(demo_frames(), video, fps=16)
        main(["check", str(video), "--joins", "24,48", "--plot", str(ROOT / "docs" / "quality-plot.png")])
