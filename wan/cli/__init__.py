"""Command line: `python -m wan COMMAND` (plan, movement, settings, schedule, generate, enhance,
interpolate, check, upscale, serve, worker, runtime, models, bench).

Input the user can fix (an error of the project's own, wan.errors.WanError) ends with a
one-line message and exit status 2; anything else is a bug and shows its traceback (`--debug`
shows tracebacks for both). Nothing but generate, enhance with a local model, worker, bench,
upscale and interpolate --method neural imports torch.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import WanError
from . import benchmarking, generating, media, planning, services
from .common import UserError

EXIT_BAD_INPUT = 2

__all__ = ["EXIT_BAD_INPUT", "UserError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="python -m wan",
        description="Wan Video for WebUI: Deforum-style animation settings to Wan video.",
    )
    parser.add_argument("--version", action="version", version=f"wan-video-webui {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for every error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in (planning, generating, media, services, benchmarking):
        module.register(commands)
    return parser


def _quiet_broken_pipe() -> None:
    """Output piped into `head` that stops reading: end quietly, as Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.run(args))
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 0
    except WanError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RecursionError:
        if args.debug:
            raise
        print("error: the input nests too deeply to be read", file=sys.stderr)
        return EXIT_BAD_INPUT
