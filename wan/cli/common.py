"""What the commands share: reading settings with the user's explicit values on top, the
arguments several commands take, and the error the user can fix."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import WanError

if TYPE_CHECKING:
    from ..config import ImportReport, WanConfig

SEED_MAX = 2**32 - 1


class UserError(WanError):
    """Input the user can fix; printed as one line, without a traceback."""


def parse_override(text: str) -> tuple[str, Any]:
    """(key, value) of a `--set KEY=VALUE` (VALUE is JSON, or text)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set needs KEY=VALUE, got '{text}'")
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError, ValueError):
        value = raw
    return key.strip(), value


def load(
    path: str | None,
    overrides: Sequence[str] = (),
    flags: Mapping[str, Any] | None = None,
    *,
    models_dir: str | None = None,
) -> tuple[WanConfig, ImportReport]:
    """The settings of a file (or the defaults), with `--set` values and command-line `flags`
    (settings key -> value, None for not given) on top: what the user says explicitly wins.
    LoRA names are looked up in `<models_dir>/loras` (default: the default models folder's)."""
    from ..config import config_from_dict, default_lora_folders, lora_search, read_settings_file

    data = read_settings_file(path) if path is not None else {}
    if not isinstance(data, dict):
        raise UserError(f"'{path}' must hold a JSON object of settings")
    explicit = dict(parse_override(item) for item in overrides)
    explicit |= {key: value for key, value in (flags or {}).items() if value is not None}
    with lora_search(default_lora_folders(models_dir)):
        return config_from_dict(data, explicit)


def print_report(report: ImportReport) -> None:
    """The notes of a settings import, on standard error."""
    import sys

    for line in report.lines():
        print(f"note: {line}", file=sys.stderr)


def seed_argument(text: str) -> int:
    """A --seed value: a whole number from 0 to 2**32 - 1, in ASCII digits."""
    digits = text.strip()
    if not (digits.isascii() and digits.lstrip("+-").isdigit() and len(digits) <= 20):
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {SEED_MAX} (got '{text[:40]}')")
    value = int(digits)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {SEED_MAX} (got {text[:40]})")
    return value


def add_settings_arguments(parser: argparse.ArgumentParser, help: str, *, optional: bool = False) -> None:
    """SETTINGS and --set."""
    parser.add_argument("settings", metavar="SETTINGS", nargs="?" if optional else None, help=help)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a setting, over what the file says (VALUE is JSON, or text), e.g. --set max_frames=240",
    )


def add_analysis_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """SETTINGS, --set, --json and --seed."""
    add_settings_arguments(parser, "settings file (JSON; Deforum .txt files too)")
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")
    parser.add_argument(
        "--seed", type=seed_argument, default=None, help="seed to use when the settings say -1"
    )


def add_model_arguments(
    parser: argparse.ArgumentParser, *, device: bool = True, download: bool = True
) -> None:
    """--models-dir, and --allow-download and --device where models are loaded."""
    parser.add_argument("--models-dir", help="folder of models (default: $WAN_MODELS_DIR or ./models/wan)")
    if download:
        parser.add_argument(
            "--allow-download", action="store_true", help="download missing models from the hub"
        )
    if device:
        parser.add_argument(
            "--device", help="torch device: cpu, cuda, cuda:1, mps (default: cuda when available)"
        )


def api_of(args: argparse.Namespace) -> Any:
    """The WanAPI of a command's --models-dir, --allow-download and --device."""
    from ..service import WanAPI

    return WanAPI(
        models_dir=getattr(args, "models_dir", None),
        allow_download=getattr(args, "allow_download", False),
        device=getattr(args, "device", None),
    )
