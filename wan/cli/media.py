"""Commands on any video: interpolate, check and upscale."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import UserError


def option_errors(exc: Any, options: dict[str, str]) -> UserError:
    """A settings error about named fields, as one line about the command-line options."""
    errors = getattr(exc, "errors", ())
    if not errors:
        return UserError(str(exc))
    return UserError("; ".join(f"{options.get(e.key, e.key)}: {e.message} (got {e.value!r})" for e in errors))


def run_interpolate(args: argparse.Namespace) -> int:
    """`interpolate`: a video at another frame rate."""
    import sys

    from ..config import InterpolationOptions, OutputOptions, SettingsError, WanConfig
    from ..post.files import interpolate_video
    from ..post.interpolation import NeuralWeightsError
    from ..post.video import VideoReadError

    names = {f"interpolation_{name}": f"--{name}" for name in ("method", "quality", "strength", "weights")}
    try:
        options = InterpolationOptions(
            method=args.method, quality=args.quality, strength=args.strength, weights=args.weights
        )
        fps = WanConfig(fps=args.fps).fps
        crf = OutputOptions(crf=args.crf).crf
    except SettingsError as exc:
        raise option_errors(exc, names | {"fps": "--fps", "output_crf": "--crf"}) from None
    source = Path(args.input)
    target = Path(args.out) if args.out else source.with_name(f"{source.stem}_{fps:g}fps.mp4")
    if target.resolve() == source.resolve():
        raise UserError(f"--out: must differ from the input video (got '{target}')")
    try:
        result = interpolate_video(
            source,
            target,
            options,
            fps,
            crf=crf,
            device=args.device,
            on_note=lambda note: print(f"note: {note}", file=sys.stderr),
        )
    except VideoReadError as exc:
        raise UserError(f"IN: {exc}") from None
    except NeuralWeightsError as exc:
        raise UserError(f"--weights: {exc}") from None
    print(
        f"wrote {result.path}: {result.output_frames} frames at {fps:g} fps from "
        f"{result.input_frames} frames at {result.source.fps:g} fps "
        f"({result.method}, {options.quality}, strength {options.strength:g})"
    )
    return 0


def parse_joins(text: str) -> tuple[int, ...]:
    """Frame numbers of clip joins from `17,33`."""
    try:
        joins = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        joins = (-1,)
    if any(j < 1 for j in joins):
        raise UserError(
            f"--joins: must be frame numbers from 1 up, separated by commas, e.g. 17,33 (got '{text}')"
        )
    return joins


def run_check(args: argparse.Namespace) -> int:
    """`check`: the quality report of a video."""
    from ..post.files import check_video
    from ..post.video import VideoReadError

    joins = parse_joins(args.joins)
    if args.plot and Path(args.plot).suffix.lower() != ".png":
        raise UserError(f"--plot: must be a .png file name (got '{args.plot}')")
    try:
        info, report = check_video(args.input, joins)
    except VideoReadError as exc:
        raise UserError(f"IN: {exc}") from None
    if args.plot:
        from ..post.quality.plot import plot_quality

        try:
            plot_quality(report.to_dict(), args.plot, title=f"{info.path.name}: quality over time")
        except OSError as exc:
            raise UserError(f"--plot: cannot write '{args.plot}' ({exc.strerror or exc})") from None
    if args.json:
        video = {"video": str(info.path), "fps": info.fps, "width": info.width, "height": info.height}
        print(json.dumps(video | report.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(f"{info.path}: {report.frames} frames, {info.width}x{info.height} at {info.fps:g} fps")
    print(report.table())
    return 0


def run_upscale(args: argparse.Namespace) -> int:
    """`upscale`: a video at 2 or 4 times its size."""
    import time

    from ..config import OutputOptions, SettingsError, UpscaleOptions
    from ..post.upscale import UpscaleError, load_upscaler, upscale_video
    from ..post.video import VideoReadError

    names = {f"upscale_{name}": f"--{name}" for name in ("model", "scale", "batch", "tile", "temporal")}
    try:
        options = UpscaleOptions(
            enabled=True,
            model=args.model,
            scale=args.scale,
            batch=args.batch,
            tile=args.tile,
            temporal=args.temporal,
        )
        crf = OutputOptions(crf=args.crf).crf
    except SettingsError as exc:
        raise option_errors(exc, names | {"output_crf": "--crf"}) from None
    source = Path(args.input)
    target = Path(args.out) if args.out else source.with_name(f"{source.stem}_x{options.scale}.mp4")
    if target.resolve() == source.resolve():
        raise UserError(f"--out: must differ from the input video (got '{target}')")
    started = time.perf_counter()
    try:
        upscaler = load_upscaler(options.model, device=args.device, tile=options.tile, setting="--model")
        result = upscale_video(
            source,
            target,
            upscaler,
            scale=options.scale,
            batch=options.batch,
            temporal=options.temporal,
            crf=crf,
        )
    except VideoReadError as exc:
        raise UserError(f"IN: {exc}") from None
    except UpscaleError as exc:
        raise UserError(str(exc)) from None
    seconds = time.perf_counter() - started
    print(
        f"wrote {result.path}: {result.frames} frames at {result.width}x{result.height} from "
        f"{result.source.width}x{result.source.height} ({result.model} x{result.model_scale}"
        f"{'' if result.model_scale == options.scale else f', resized to x{options.scale}'}; "
        f"{result.frames / seconds:.2f} frames/s)"
    )
    return 0


def register(commands: Any) -> None:
    """Add interpolate, check and upscale."""
    interpolate = commands.add_parser(
        "interpolate",
        help="change the frame rate of any video by frame interpolation",
        description="Interpolate a video to another frame rate (exact frame times; streams any length).",
    )
    interpolate.add_argument("input", metavar="IN", help="video file (anything ffmpeg reads)")
    interpolate.add_argument("--fps", required=True, help="output frame rate, e.g. 24, 30, 60")
    interpolate.add_argument("--method", default="optical_flow", help="linear, optical_flow or neural")
    interpolate.add_argument("--quality", default="balanced", help="fast, balanced or high_quality")
    interpolate.add_argument(
        "--strength", default="1", help="0 holds the nearest frame, 1 synthesises every in-between"
    )
    interpolate.add_argument("--out", metavar="OUT.mp4", help="output video (default: IN_<fps>fps.mp4)")
    interpolate.add_argument(
        "--weights",
        default="",
        help="neural: IFNet (RIFE 4.x) weights file (default: $WAN_INTERPOLATION_WEIGHTS, "
        "else <models dir>/interpolation/)",
    )
    interpolate.add_argument("--crf", default="17", help="H.264 quality, 0-51 (lower is better)")
    interpolate.add_argument("--device", help="neural: torch device (default: cuda when available)")
    interpolate.set_defaults(run=run_interpolate)

    check = commands.add_parser(
        "check",
        help="measure the quality of any video: consistency, flicker, seams, drift, broken frames",
        description="Quality checks of a video; prints each metric with its warning threshold.",
    )
    check.add_argument("input", metavar="IN", help="video file (anything ffmpeg reads)")
    check.add_argument("--joins", default="", help="frames where a new clip starts, e.g. 17,33")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--plot", metavar="OUT.png", help="also draw the report over time (flicker, consistency, seams)"
    )
    check.set_defaults(run=run_check)

    upscale = commands.add_parser(
        "upscale",
        help="upscale any video 2x or 4x with an image upscaler (ESRGAN, Real-ESRGAN, SwinIR, ...)",
        description="Upscale a video with an image upscaler loaded through spandrel, in batches, tiled, "
        "with temporal stabilisation; streams any length.",
    )
    upscale.add_argument("input", metavar="IN", help="video file (anything ffmpeg reads)")
    upscale.add_argument("--model", required=True, help="upscaler file (.pth or .safetensors)")
    upscale.add_argument("--scale", default="2", help="2 or 4 (default 2)")
    upscale.add_argument("--out", metavar="OUT.mp4", help="output video (default: IN_x<scale>.mp4)")
    upscale.add_argument("--batch", default="4", help="frames upscaled at once (default 4)")
    upscale.add_argument("--tile", default="512", help="tile side in input pixels, 0 for whole frames")
    upscale.add_argument("--temporal", default="0.5", help="temporal stabilisation 0-0.95 (0: off)")
    upscale.add_argument("--crf", default="17", help="H.264 quality, 0-51 (lower is better)")
    upscale.add_argument("--device", help="torch device (default: cuda when available)")
    upscale.set_defaults(run=run_upscale)
