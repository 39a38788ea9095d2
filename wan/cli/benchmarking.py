"""`python -m wan bench`: where a render's time and memory go on this machine (wan.bench.profile),
and the GPU check (`--gpu-check`, wan.bench.gpu_check)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from .common import UserError, add_settings_arguments, load, print_report


def _size(text: str) -> tuple[int, int]:
    found = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not found:
        raise argparse.ArgumentTypeError(f"must be WIDTHxHEIGHT, e.g. 832x480 (got '{text[:40]}')")
    return int(found.group(1)), int(found.group(2))


def _target(args: argparse.Namespace) -> tuple[Any, str]:
    """The settings to profile and the model asked for: MODEL (an id) or a settings file."""
    from ..catalog import known_model

    target = args.settings
    flags = {"memory_preset": args.memory, "speed_preset": args.speed}
    if target is None:
        raise UserError("bench: give a model id (python -m wan models) or a settings file")
    spec = known_model(target)
    if spec is not None and not Path(target).is_file():
        flags["model"] = spec.id
        if spec.kind == "i2v":
            from ..bench.profile import grey_image

            flags["init_image"] = str(grey_image())  # I2V starts from an image; any will do
        config, report = load(None, args.set, flags)
    else:
        config, report = load(target, args.set, flags)
    print_report(report)
    return config, config.model


def run_bench(args: argparse.Namespace) -> int:
    """`bench`: profile one clip, print the table, write the JSON and the chart."""
    if args.gpu_check:
        from ..bench.gpu_check import run_from_arguments

        return run_from_arguments(args)
    config, asked = _target(args)
    from ..bench.profile import profile_config, run_profile, setup_profile
    from ..bench.report import format_profile, plot_profile, write_json
    from ..config import SettingsError
    from ..render import torch_device

    device = torch_device(args.device)
    try:
        profiled, notes = profile_config(
            config, cuda=device.type == "cuda", size=args.size, frames=args.frames
        )
    except SettingsError as error:
        raise UserError(f"bench: {error}") from None
    setup = setup_profile(profiled, device=device, steps=args.steps, asked_model=asked, notes=notes)
    print(
        f"profiling {profiled.model}: {setup.steps} of {setup.plan.steps} steps on {device} ...",
        file=sys.stderr,
    )
    result = run_profile(setup)
    print(format_profile(result))
    if args.json:
        print(f"json: {write_json(result, args.json)}")
    if args.plot:
        print(f"chart: {plot_profile(result, args.plot)}")
    return 0


def register(commands: Any) -> None:
    """Add bench."""
    from ..config import MEMORY_CHOICES, SPEED_PRESETS

    bench = commands.add_parser(
        "bench",
        help="measure where a render's time and memory go on this machine, and recommend presets",
        description=(
            "Profile one clip of MODEL (an id) or of a SETTINGS file through every stage of a render, "
            "with random weights (no download): at the real sizes on CUDA, with the tiny model of the "
            "same kind on a CPU. --gpu-check runs the prepared GPU check instead."
        ),
    )
    add_settings_arguments(bench, "model id (python -m wan models) or settings file", optional=True)
    bench.add_argument("--size", type=_size, metavar="WxH", help="frame size (CPU default 64x64)")
    bench.add_argument("--frames", type=int, metavar="N", help="frames of the clip, 4n+1 (CPU default 17)")
    bench.add_argument(
        "--steps", type=int, metavar="K", help="steps to run (default 4); more steps are extrapolated"
    )
    bench.add_argument("--json", metavar="OUT", help="write the figures as JSON")
    bench.add_argument("--plot", metavar="OUT.png", help="draw the per-stage chart (needs matplotlib)")
    bench.add_argument("--memory", metavar="PRESET", help="memory preset: " + ", ".join(MEMORY_CHOICES))
    bench.add_argument("--speed", metavar="PRESET", help="speed preset: " + ", ".join(SPEED_PRESETS))
    bench.add_argument("--device", help="torch device: cpu, cuda, cuda:1 (default: cuda when available)")
    check = bench.add_argument_group("GPU check")
    check.add_argument("--gpu-check", action="store_true", help="run the GPU check (benchmarks/gpu_check.sh)")
    check.add_argument("--dry-run", action="store_true", help="every check at tiny sizes on the CPU")
    check.add_argument("--budget", type=float, help="seconds for the whole check (default 540; dry run 120)")
    check.add_argument("--checks", help="only these checks, comma-separated (--list-checks names them)")
    check.add_argument("--list-checks", action="store_true", help="list the registered checks")
    check.add_argument(
        "--results", help="the RESULTS.md to append to (default: benchmarks/RESULTS.md; '-' for none)"
    )
    check.add_argument(
        "--carry-command", action="store_true", help="print the pip download command for the wheels it needs"
    )
    bench.set_defaults(run=run_bench)
