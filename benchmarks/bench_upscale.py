"""CPU benchmark of upscaling and of the quality gate's overhead.

Upscaling: frames/s of the upscalers people use for video at their real sizes (random weights,
saved as a state dict and loaded through spandrel, as a user's file is): realesr-animevideov3's
architecture (SRVGGNetCompact 64x16, x4) at 832x480 -> x2 and x4, and RealESRGAN_x4plus's (RRDBNet
64x23, x4) on a 208x120 input (it needs about 60 times the compute per pixel); the temporal
stabilisation alone per output frame.

Quality gate: the seconds its checks add to a clip of 81 frames at 832x480 (black/frozen frames,
flicker, the seam with the previous clip), and the CLIP score with a CLIP ViT-L/14 of random
weights at the real size (load from disk, 8 frames, release), which the gate pays per attempt.

Run: python benchmarks/bench_upscale.py [--frames 4] [--no-clip]
Appends what it measured to benchmarks/RESULTS.md. On a machine where torchvision cannot be
imported (this project's CPU test machine: only CUDA builds for torch 2.13 are at hand), spandrel
is imported the way the tests do (tests/tiny_quality.py: a stand-in for the two torchvision names
that LaMa and RestoreFormer import; the architectures measured here use neither).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import append_results, command, load_average, machine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from tiny_quality import import_spandrel

import_spandrel()

from wan.post.quality.gate import measure_clip  # noqa: E402
from wan.post.synthetic import panning_video  # noqa: E402
from wan.post.upscale import TemporalStabilizer, load_upscaler, upscale_frames  # noqa: E402


def architecture_file(folder: Path, kind: str) -> Path:
    """A random-weight state dict of a real upscaler architecture."""
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    model = (
        ESRGAN(num_filters=64, num_blocks=23, scale=4)
        if kind == "rrdb"
        else Compact(num_feat=64, num_conv=16)
    )
    path = folder / f"{kind}.pth"
    torch.save(model.state_dict(), path)
    return path


def upscale_rate(path: Path, frames: list[np.ndarray], scale: int, temporal: float) -> float:
    """Frames per second through upscale_frames (after one warm-up frame)."""
    upscaler = load_upscaler(path, device="cpu", tile=512)
    list(upscale_frames(frames[:1], upscaler, scale=scale, batch=1, temporal=0.0))
    started = time.perf_counter()
    count = sum(1 for _ in upscale_frames(frames, upscaler, scale=scale, batch=2, temporal=temporal))
    return count / (time.perf_counter() - started)


def clip_overhead(folder: Path) -> tuple[float, float]:
    """(seconds to load a random CLIP ViT-L/14 saved with save_pretrained, seconds to score 8
    frames of a clip against a 120-token prompt)."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from wan.post.quality.adherence import AdherenceScorer

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from tiny_quality import build_tiny_clip

    clip = build_tiny_clip(folder / "clip")  # its tokenizer; the model is replaced by ViT-L/14's sizes
    config = CLIPConfig(
        text_config={
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "vocab_size": 49408,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "image_size": 224,
            "patch_size": 14,
        },
        projection_dim=768,
    )
    CLIPModel(config).save_pretrained(clip)
    CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(
        clip
    )
    frames = np.stack(panning_video(range(81), 480, 832))
    started = time.perf_counter()
    scorer = AdherenceScorer(str(clip), device="cpu", frames_per_clip=8)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    scorer.score("a misty pine forest at dawn, sunbeams through the trees, " * 6, frames)
    scored = time.perf_counter() - started
    scorer.release()
    return loaded, scored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4, help="frames per upscaling measurement")
    parser.add_argument("--no-clip", action="store_true", help="skip the CLIP ViT-L/14 overhead")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    lines = [f"## Upscaling and the quality gate on the CPU ({datetime.date.today()})", "", machine(), ""]
    lines += [f"Command: `{command()}`; load when it started: {load_average()}", ""]
    lines += [
        "| upscaler architecture (random weights) | input | scale | stabilisation | frames/s |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        compact = architecture_file(work, "compact")
        frames = panning_video(range(args.frames + 1), 480, 832)
        for scale, temporal in ((2, 0.0), (2, 0.5), (4, 0.5)):
            rate = upscale_rate(compact, frames, scale, temporal)
            name = "realesr-animevideov3 (Compact 64x16, x4)"
            lines.append(f"| {name} | 832x480 | x{scale} | {temporal:g} | {rate:.3f} |")
        rrdb = architecture_file(work, "rrdb")
        small = panning_video(range(3), 120, 208)
        rate = upscale_rate(rrdb, small, 4, 0.5)
        lines.append(f"| RealESRGAN_x4plus (RRDB 64x23, x4) | 208x120 | x4 | 0.5 | {rate:.3f} |")
        stabilizer = TemporalStabilizer(0.5)
        big = [np.kron(f, np.ones((2, 2, 1), np.uint8)) for f in panning_video(range(6), 480, 832)]
        sources = panning_video(range(6), 480, 832)
        started = time.perf_counter()
        for source, frame in zip(sources, big, strict=True):
            stabilizer.add(source, frame)
        per_frame = (time.perf_counter() - started) / len(big)
        lines += ["", f"- temporal stabilisation alone: {per_frame * 1000:.0f} ms per 1664x960 output frame"]
        clip = np.stack(panning_video(range(81), 480, 832))
        previous = list(np.stack(panning_video(range(-4, 0), 480, 832)))
        started = time.perf_counter()
        measure_clip(clip, previous)
        checks = time.perf_counter() - started
        lines.append(
            f"- quality gate checks of one clip (81 frames of 832x480, with the previous clip's last 4): "
            f"{checks:.2f} s per attempt"
        )
        if not args.no_clip:
            loaded, scored = clip_overhead(work)
            lines.append(
                f"- CLIP score with a ViT-L/14-sized CLIP (random weights): load {loaded:.2f} s, score 8 "
                f"frames against a 6-chunk prompt {scored:.2f} s, per clip (or per gate attempt)"
            )
    lines += [
        "- GPU: unmeasured here (the GPU check's `upscale` check measures it: benchmarks/GPU_CHECKS.md)"
    ]
    append_results(lines)


if __name__ == "__main__":
    main()
