"""Command line: `python -m wan plan|movement|generate|models|settings|schedule`.

Bad input ends with a message, not a traceback; nothing but `generate` imports torch."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import ImportReport, WanConfig
    from .plan import GenerationPlan

EXIT_BAD_INPUT = 2


class UserError(Exception):
    """Input the user can fix; printed without a traceback."""


def _parse_override(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set needs KEY=VALUE, got '{text}'")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def _load(path: str | None, overrides: Sequence[str]) -> tuple[WanConfig, ImportReport]:
    from .config import config_from_dict

    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
        except OSError as exc:
            raise UserError(f"cannot read settings file '{path}': {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"'{path}' is not a JSON settings file: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
        if not isinstance(data, dict):
            raise UserError(f"'{path}' must hold a JSON object of settings")
    data.update(_parse_override(item) for item in overrides)
    return config_from_dict(data)


def _report(report: ImportReport) -> None:
    for line in report.lines():
        print(f"note: {line}", file=sys.stderr)


def _format_plan(plan: GenerationPlan, width: int, mode: str) -> str:
    lines = [
        f"model {plan.model}"
        + (f" + {plan.i2v_model}" if plan.i2v_model else "")
        + f" | {plan.width}x{plan.height} | {plan.steps} steps | guidance {plan.guidance_scale:g}"
        + f" | flow shift {plan.flow_shift:g} | seed {plan.seed} ({plan.seed_behavior})",
        f"{plan.output_frames} frames at {plan.output_fps:g} fps ({plan.duration_seconds:.2f} s) = "
        f"{plan.model_frames} model frames at {plan.model_fps} fps, in {len(plan.clips)} clip(s) "
        f"generating {plan.generated_frames} frames",
        "",
    ]
    rows = [("clip", "frames", "model frames", "generate", "seed", "from", "prompt")]
    for clip in plan.clips:
        source = {"text": "text", "init_image": "init image"}.get(
            clip.conditioning, f"prev. {clip.overlap_frames}"
        )
        rows.append(
            (
                str(clip.index),
                f"{clip.start_frame}-{clip.end_frame - 1}" if clip.end_frame > clip.start_frame else "-",
                f"{clip.model_start_frame}-{clip.model_end_frame - 1}",
                f"{clip.num_frames}" + (f" (-{clip.trim_frames} trim)" if clip.trim_frames else ""),
                str(clip.seed),
                source,
                clip.base_prompt,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    prompt_room = max(20, width - sum(widths) - 2 * 6)
    for row in rows:
        cells = [
            cell.rjust(w) if i in (0, 4) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row[:6], widths, strict=True))
        ]
        prompt = row[6] if len(row[6]) <= prompt_room else row[6][: prompt_room - 3] + "..."
        lines.append("  ".join([*cells, prompt]).rstrip())
    lines += ["", f"movement ({mode}):"] + [f"  clip {c.index}: {c.movement.description}" for c in plan.clips]
    if plan.warnings:
        lines += ["", "warnings:"] + [f"  - {w}" for w in plan.warnings]
    return "\n".join(lines)


def _cmd_plan(args: argparse.Namespace) -> int:
    from .plan import create_plan

    config, report = _load(args.settings, args.set)
    _report(report)
    plan = create_plan(config, seed=args.seed)
    if args.json:
        print(plan.to_json())
    else:
        mode = {"append": "appended to each prompt", "prepend": "put before each prompt"}.get(
            config.movement.mode, "not added to the prompts"
        )
        print(_format_plan(plan, shutil.get_terminal_size((120, 24)).columns, mode))
    return 0


def _cmd_movement(args: argparse.Namespace) -> int:
    from .movement import CameraPath, analyze_window, prompt_windows
    from .seeds import resolve_seed

    config, report = _load(args.settings, args.set)
    _report(report)
    path = CameraPath.from_config(config, resolve_seed(config.seed, args.seed))
    options = config.movement
    segments = [
        analyze_window(path, start, end, sensitivity=options.sensitivity, max_phrases=options.max_phrases)
        for start, end in prompt_windows(config)
    ]
    if args.plot:
        from .movement.plot import plot_camera

        try:
            written = plot_camera(path, segments, args.plot)
        except (RuntimeError, OSError) as exc:
            raise UserError(str(exc)) from None
        print(f"note: wrote {written}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "mode": config.animation_mode,
                    "fps": config.fps,
                    "segments": [s.to_dict() for s in segments],
                },
                indent=2,
            )
        )
        return 0
    width = max(len(f"{s.start_frame}-{s.end_frame - 1}") for s in segments)
    print(f"{config.animation_mode} camera, {config.max_frames} frames at {config.fps:g} fps")
    for segment in segments:
        print(f"  {f'{segment.start_frame}-{segment.end_frame - 1}':<{width}}  {segment.description}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    import datetime

    from .models.resolve import ModelNotFoundError
    from .plan import create_plan
    from .progress import ProgressBar, format_seconds
    from .render import RenderOptions, ResumeMismatchError, RunFolder, render
    from .render.engine import RenderError

    overrides = list(args.set)
    if args.model:
        overrides.append(f"model={json.dumps(args.model)}")
    if args.memory:
        overrides.append(f"memory_preset={json.dumps(args.memory)}")
    config, report = _load(args.settings, overrides)
    _report(report)
    if args.resume:
        folder = RunFolder(args.resume)
        if not folder.plan_path.is_file():
            raise UserError(f"{args.resume} is not a run folder (it has no plan.json)")
        run_dir = folder.root
        plan = create_plan(config, seed=folder.stored_plan().seed)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = Path(args.out) if args.out else Path(config.output.dir or "outputs/wan-videos") / stamp
        plan = create_plan(config, seed=args.seed)
    if any(model.startswith("tiny") for model in {plan.model, plan.i2v_model} if model):
        print(
            "note: the tiny model has random weights: the video is noise. It checks that the install "
            "works end to end.",
            file=sys.stderr,
        )
    options = RenderOptions(
        device=args.device,
        memory=config.memory.preset,
        models_dir=args.models_dir,
        allow_download=args.allow_download,
        color_coherence=config.output.color_coherence,
        save_frames=config.output.save_frames or args.frames_only,
        write_video=not args.frames_only,
        crf=config.output.crf,
    )
    print(f"run folder: {run_dir}", file=sys.stderr)
    try:
        result = render(
            plan,
            run_dir,
            options=options,
            callback=ProgressBar(),
            resume=bool(args.resume),
            settings=config.to_dict(),
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished clips are kept; continue with --resume {run_dir}", file=sys.stderr)
        return 130
    except (ModelNotFoundError, RenderError, ResumeMismatchError) as exc:
        raise UserError(str(exc)) from None
    clips = result.metrics["clips"]
    seconds = result.metrics["generation_seconds"]
    generated = sum(c.num_frames for c in plan.clips)
    print(f"generated {len(clips)} clip(s) in {format_seconds(seconds)} ({seconds / generated:.2f} s/frame)")
    if result.video:
        print(f"video: {result.video}")
    if result.frames_dir:
        print(f"frames: {result.frames_dir}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from .models import MODELS
    from .models.resolve import default_models_dir, is_present

    models_dir = Path(args.models_dir) if args.models_dir else default_models_dir()
    rows = []
    for spec in MODELS.values():
        where = is_present(spec, models_dir)
        weights = spec.weights_gb("bf16")
        rows.append(
            {
                "id": spec.id,
                "hub_id": spec.hub_id,
                "kind": spec.kind,
                "description": spec.description,
                "present": str(where) if where else None,
                "transformer_gb_bf16": round(weights["transformer"], 2) if weights else None,
            }
        )
    if args.json:
        print(json.dumps({"models_dir": str(models_dir), "models": rows}, indent=2))
        return 0
    print(f"models folder: {models_dir}")
    for row in rows:
        size = f"{row['transformer_gb_bf16']:5.1f} GB" if row["transformer_gb_bf16"] else "   tiny "
        state = (
            f"present: {row['present']}"
            if row["present"]
            else ("built on first use" if row["id"].startswith("tiny") else "not downloaded")
        )
        print(f"  {row['id']:<14} {row['kind']:<5} {size}  {state}")
        print(f"      {row['description']}" + (f" ({row['hub_id']})" if row["hub_id"] else ""))
    return 0


def _cmd_settings(args: argparse.Namespace) -> int:
    from .config import all_specs

    if args.list:
        for group, spec in all_specs():
            default = _default_of(group, spec.name)
            print(f"{spec.key}  (default {json.dumps(default, ensure_ascii=False)[:60]})")
            print(f"    {spec.help}; {spec.check.describe()}")
        return 0
    config, report = _load(args.settings, args.set)
    _report(report)
    print(config.to_json())
    return 0


def _default_of(group: str | None, name: str) -> Any:
    from .config import GROUPS, WanConfig

    holder = WanConfig() if group is None else GROUPS[group]()
    value = getattr(holder, name)
    return dict(value) if name == "prompts" else value


def _cmd_schedule(args: argparse.Namespace) -> int:
    from .config.settings import MAX_FRAMES_LIMIT
    from .schedules import ScheduleError, evaluate_schedule

    if not 1 <= args.frames <= MAX_FRAMES_LIMIT:
        raise UserError(f"--frames must be from 1 to {MAX_FRAMES_LIMIT} (got {args.frames})")
    try:
        values = evaluate_schedule(
            args.schedule, args.frames, seed=args.seed, interpolation=args.interpolation, name="schedule"
        )
    except ScheduleError as exc:
        pointer = exc.pointer()
        raise UserError(str(exc) + (f"\n{pointer}" if pointer else "")) from None
    if args.json:
        print(json.dumps([float(v) for v in values]))
    else:
        for frame, value in enumerate(values):
            print(f"{frame}\t{value:g}")
    return 0


def _add_settings_arguments(parser: argparse.ArgumentParser, help: str, *, optional: bool = False) -> None:
    parser.add_argument("settings", metavar="SETTINGS", nargs="?" if optional else None, help=help)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting (VALUE is JSON, or text), e.g. --set max_frames=240",
    )


def _add_analysis_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    _add_settings_arguments(parser, "settings file (JSON; Deforum .txt files too)")
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")
    parser.add_argument("--seed", type=int, default=None, help="seed to use when the settings say -1")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand that exists."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="python -m wan",
        description="Wan Video for WebUI: Deforum-style animation settings to Wan 2.1 video.",
    )
    parser.add_argument("--version", action="version", version=f"wan-video-webui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    plan = commands.add_parser(
        "plan",
        help="cut an animation into the clips Wan will generate (no GPU, no torch)",
        description="Read a settings file (ours or a Deforum settings .txt) and print the clip plan.",
    )
    _add_analysis_arguments(plan, "the plan")
    plan.set_defaults(run=_cmd_plan)

    movement = commands.add_parser(
        "movement",
        help="describe the camera movement of each prompt segment in words",
        description="Analyse the camera schedules (and shake) of each prompt segment.",
    )
    _add_analysis_arguments(movement, "the analysis")
    movement.add_argument("--plot", metavar="FILE.png", help="also draw the camera curves (needs matplotlib)")
    movement.set_defaults(run=_cmd_movement)

    generate = commands.add_parser(
        "generate",
        help="generate the video with a Wan model (needs pip install -e '.[models]')",
        description="Plan and render a video; every finished clip is kept, so a run can be resumed.",
    )
    _add_settings_arguments(generate, "settings file (JSON; Deforum .txt files too)")
    generate.add_argument(
        "--model", metavar="ID|PATH", help="model id (python -m wan models), hub id or folder"
    )
    generate.add_argument("--out", metavar="DIR", help="run folder (default: outputs/wan-videos/<time>)")
    generate.add_argument("--resume", metavar="DIR", help="continue an interrupted run in DIR")
    generate.add_argument("--frames-only", action="store_true", help="write the frames, not the MP4")
    generate.add_argument("--seed", type=int, default=None, help="seed to use when the settings say -1")
    generate.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    generate.add_argument("--memory", help="memory preset: auto, none, conservative, balanced, aggressive")
    generate.add_argument(
        "--models-dir", help="folder of Wan models (default: $WAN_MODELS_DIR or ./models/wan)"
    )
    generate.add_argument(
        "--allow-download", action="store_true", help="download missing models from the hub"
    )
    generate.set_defaults(run=_cmd_generate)

    models = commands.add_parser("models", help="list the known models and which are on this machine")
    models.add_argument(
        "--models-dir", help="folder of Wan models (default: $WAN_MODELS_DIR or ./models/wan)"
    )
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(run=_cmd_models)

    settings = commands.add_parser(
        "settings",
        help="print settings as clean JSON (converts Deforum files), or list every setting",
        description="Print the defaults, or a settings file normalised (a Deforum file becomes ours).",
    )
    _add_settings_arguments(settings, "settings file to normalise (default: the defaults)", optional=True)
    settings.add_argument("--list", action="store_true", help="list every setting with its default")
    settings.set_defaults(run=_cmd_settings)

    schedule = commands.add_parser(
        "schedule",
        help="evaluate a Deforum keyframe schedule frame by frame",
        description='Evaluate a schedule such as "0:(0), 30:(5*sin(t/10))" exactly as Deforum does.',
    )
    schedule.add_argument("schedule", metavar="SCHEDULE", help='keyframe text, e.g. "0:(0), 30:(5)"')
    schedule.add_argument("--frames", type=int, required=True, help="number of frames (max_frames)")
    schedule.add_argument("--seed", type=int, default=-1, help="value of s in expressions")
    schedule.add_argument("--interpolation", default="Linear", help="Linear, Quadratic or Cubic")
    schedule.add_argument("--json", action="store_true", help="print a JSON array")
    schedule.set_defaults(run=_cmd_schedule)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from .config import SettingsError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.run(args))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except (UserError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    return EXIT_BAD_INPUT
