"""CPU benchmark of frame interpolation and quality checks at 832x480.

For each method (linear; optical_flow with each quality preset, and Farneback for comparison;
neural with random weights), the speed of turning 16 fps into 30 fps — output frames per second,
exact frames included, as `python -m wan interpolate` would run it without decoding and
encoding — and the accuracy of in-betweens against the true frames of a synthetic scene with
known motion (a panning, zooming background and a turning disc that moves across it). Then the
throughput of the quality checks.

Run: python benchmarks/bench_interpolation.py [--frames 17]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

import cv2
import numpy as np
import torch
from common import append_results, machine

from wan.post.interpolation import (
    FlowInterpolator,
    LinearInterpolator,
    NeuralInterpolator,
    interpolate_frames,
)
from wan.post.interpolation.flow import FlowPreset
from wan.post.interpolation.ifnet import IFNet
from wan.post.quality import QualityChecker
from wan.post.resample import output_frame_count, output_samples
from wan.post.synthetic import panning_video, texture

HEIGHT, WIDTH = 480, 832


def scene(times: list[float]) -> list[np.ndarray]:
    """A background panning 10 px and zooming 2 % per frame, with a textured disc that moves
    24 px right and 8 px down and turns 6 degrees per frame in front of it."""
    background = panning_video([0.0], HEIGHT * 2, WIDTH * 2, speed=(0, 0), seed=11)[0]
    disc = (texture(160, 160, seed=12) * 135 + 120).astype(np.float32)
    disc = np.stack([disc, np.roll(disc, 23, 0), np.roll(disc, 41, 1)], axis=-1)
    mask = np.zeros((160, 160), np.float32)
    cv2.circle(mask, (80, 80), 70, 1.0, -1)
    frames = []
    for t in times:
        view = cv2.getRotationMatrix2D((WIDTH, HEIGHT), 0, 1 + 0.02 * t)
        view[:, 2] -= (WIDTH / 2 + 10 * t, HEIGHT / 2 + 3 * t)
        frame = cv2.warpAffine(background, view, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT)
        turn = cv2.getRotationMatrix2D((80, 80), 6 * t, 1.0)
        turn[:, 2] += (200 + 24 * t, 150 + 8 * t)
        moved = cv2.warpAffine(disc, turn, (WIDTH, HEIGHT))
        cover = cv2.warpAffine(mask, turn, (WIDTH, HEIGHT))[..., None]
        frames.append(np.rint(frame * (1 - cover) + moved * cover).astype(np.uint8))
    return frames


def speed(interpolator, frames: list[np.ndarray], repeats: int) -> tuple[float, int]:
    """(median output frames per second of 16 -> 30 fps, output frames)."""
    count = output_frame_count(len(frames), 30, 16)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        made = sum(1 for _ in interpolate_frames(frames, output_samples(30, 16), interpolator))
        rates.append(made / (time.perf_counter() - started))
    return statistics.median(rates), count


def accuracy(interpolator) -> float:
    """Mean absolute error (8-bit levels) of the in-betweens at 1/3 and 2/3 against the truth."""
    first, truth_a, truth_b, second = scene([0, 1 / 3, 2 / 3, 1])
    made = interpolator.interpolate(first, second, [1 / 3, 2 / 3])
    inner = (slice(8, -8), slice(8, -8))
    errors = [
        np.abs(m[inner].astype(int) - t[inner]).mean() for m, t in zip(made, (truth_a, truth_b), strict=True)
    ]
    return float(np.mean(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=17, help="input frames at 16 fps")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    frames = scene([float(i) for i in range(args.frames)])
    torch.manual_seed(0)
    methods = {
        "linear": LinearInterpolator(),
        "optical_flow fast (DIS ultrafast, 1/2 size)": FlowInterpolator("fast"),
        "optical_flow balanced (DIS medium, 1/2 size)": FlowInterpolator("balanced"),
        "optical_flow high_quality (DIS medium, full size)": FlowInterpolator("high_quality"),
        "(not used) DIS fast, full size": FlowInterpolator(
            preset=FlowPreset("dis", cv2.DISOPTICAL_FLOW_PRESET_FAST)
        ),
        "(not used) Farneback, full size": FlowInterpolator(preset=FlowPreset("farneback")),
        "neural fast, random weights, CPU float32": NeuralInterpolator(IFNet().eval(), "fast"),
        "neural balanced, random weights, CPU float32": NeuralInterpolator(IFNet().eval(), "balanced"),
    }
    today = datetime.date.today().isoformat()
    outputs = output_frame_count(args.frames, 30, 16)
    lines = [
        f"## Frame interpolation and quality checks at {WIDTH}x{HEIGHT} — {today}",
        "",
        f"- machine: {machine()}",
        f"- versions: Python {platform.python_version()}, numpy {np.__version__}, OpenCV {cv2.__version__}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)",
        f"- command: `python benchmarks/bench_interpolation.py --frames {args.frames} "
        f"--repeats {args.repeats}`",
        f"- task: {args.frames} frames at 16 fps -> {outputs} frames at 30 fps (in memory; no decoding or "
        "encoding); error: mean absolute error in 8-bit levels of the in-betweens at t = 1/3 and 2/3 "
        "against the true frames of a synthetic scene (pan + zoom + a moving, turning disc)",
        "",
        "| method | output frames/s | error (levels) |",
        "|---|---|---|",
    ]
    for name, interpolator in methods.items():
        rate, _ = speed(interpolator, frames, 1 if name.startswith("neural") else args.repeats)
        error = "random weights" if name.startswith("neural") else f"{accuracy(interpolator):.2f}"
        lines.append(f"| {name} | {rate:.1f} | {error} |")
        print(lines[-1], flush=True)
    rates = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        QualityChecker(joins=[args.frames // 2]).add_all(frames).report()
        rates.append(len(frames) / (time.perf_counter() - started))
    lines += [
        "",
        f"- quality checks (all five metrics, one pass): {statistics.median(rates):.1f} frames/s",
        "- GPU: not measured (no GPU was lent to this run)",
        "",
    ]
    append_results(lines)


if __name__ == "__main__":
    main()
