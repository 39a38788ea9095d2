"""Commands that need neither torch nor a GPU: plan, movement, settings, schedule."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import TYPE_CHECKING, Any

from .common import UserError, add_analysis_arguments, add_settings_arguments, load, print_report

if TYPE_CHECKING:
    from ..plan import GenerationPlan

MAX_SCHEDULE_LENGTH = 20_000


def format_plan(plan: GenerationPlan, width: int, mode: str) -> str:
    """The plan as a table for a terminal of `width` columns."""
    lines = [
        f"model {plan.model}"
        + (f" + {plan.i2v_model}" if plan.i2v_model else "")
        + f" | {plan.width}x{plan.height} | {plan.steps} steps | guidance {plan.guidance_scale:g}"
        + (f" / {plan.guidance_scale_2:g} (low noise)" if plan.guidance_scale_2 is not None else "")
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


def run_plan(args: argparse.Namespace) -> int:
    """`plan`: the clip plan of a settings file."""
    from ..plan import create_plan

    config, report = load(args.settings, args.set)
    print_report(report)
    plan = create_plan(config, seed=args.seed)
    if args.json:
        print(plan.to_json())
        return 0
    mode = {"append": "appended to each prompt", "prepend": "put before each prompt"}.get(
        config.movement.mode, "not added to the prompts"
    )
    print(format_plan(plan, shutil.get_terminal_size((120, 24)).columns, mode))
    return 0


def run_movement(args: argparse.Namespace) -> int:
    """`movement`: the camera movement of each prompt, in words."""
    from ..plan import camera_path, movement_by_prompt
    from ..seeds import resolve_seed

    config, report = load(args.settings, args.set)
    print_report(report)
    seed = resolve_seed(config.seed, args.seed)
    segments = movement_by_prompt(config, seed=seed)
    if args.plot:
        from ..movement.plot import plot_camera

        try:
            written = plot_camera(camera_path(config, seed), segments, args.plot)
        except (RuntimeError, OSError) as exc:
            raise UserError(f"--plot: {exc}") from None
        print(f"note: wrote {written}", file=sys.stderr)
    if args.json:
        document = {
            "mode": config.animation_mode,
            "fps": config.fps,
            "segments": [s.to_dict() for s in segments],
        }
        print(json.dumps(document, indent=2))
        return 0
    width = max(len(f"{s.start_frame}-{s.end_frame - 1}") for s in segments)
    print(f"{config.animation_mode} camera, {config.max_frames} frames at {config.fps:g} fps")
    for segment in segments:
        print(f"  {f'{segment.start_frame}-{segment.end_frame - 1}':<{width}}  {segment.description}")
    return 0


def _shown_default(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def run_settings(args: argparse.Namespace) -> int:
    """`settings`: a settings file normalised, or every setting with its default."""
    from ..config import all_specs, default_of

    if args.list:
        for group, spec in all_specs():
            print(f"{spec.key}  (default {_shown_default(default_of(group, spec.name))})")
            print(f"    {spec.label}: {spec.help}; {spec.check.describe()}")
        return 0
    config, report = load(args.settings, args.set)
    print_report(report)
    print(config.to_json())
    return 0


def run_schedule(args: argparse.Namespace) -> int:
    """`schedule`: a keyframe schedule evaluated frame by frame."""
    from ..config.settings import MAX_FRAMES_LIMIT
    from ..schedules import ScheduleError, evaluate_schedule

    if not 1 <= args.frames <= MAX_FRAMES_LIMIT:
        raise UserError(f"--frames must be from 1 to {MAX_FRAMES_LIMIT} (got {args.frames})")
    if len(args.schedule) > MAX_SCHEDULE_LENGTH:
        raise UserError(f"SCHEDULE: at most {MAX_SCHEDULE_LENGTH} characters (got {len(args.schedule)})")
    try:
        values = evaluate_schedule(
            args.schedule, args.frames, seed=args.seed, interpolation=args.interpolation, name="schedule"
        )
    except ScheduleError as exc:
        pointer = exc.pointer()
        raise UserError(
            str(exc) + (f"\n{pointer}" if pointer and len(args.schedule) <= 200 else "")
        ) from None
    if args.json:
        print(json.dumps([float(v) for v in values]))
    else:
        for frame, value in enumerate(values):
            print(f"{frame}\t{value:g}")
    return 0


def register(commands: Any) -> None:
    """Add plan, movement, settings and schedule."""
    plan = commands.add_parser(
        "plan",
        help="cut an animation into the clips Wan will generate (no GPU, no torch)",
        description="Read a settings file (ours or a Deforum settings .txt) and print the clip plan.",
    )
    add_analysis_arguments(plan, "the plan")
    plan.set_defaults(run=run_plan)

    movement = commands.add_parser(
        "movement",
        help="describe the camera movement of each prompt segment in words",
        description="Analyse the camera schedules (and shake) of each prompt segment.",
    )
    add_analysis_arguments(movement, "the analysis")
    movement.add_argument("--plot", metavar="FILE.png", help="also draw the camera curves (needs matplotlib)")
    movement.set_defaults(run=run_movement)

    settings = commands.add_parser(
        "settings",
        help="print settings as clean JSON (converts Deforum files), or list every setting",
        description="Print the defaults, or a settings file normalised (a Deforum file becomes ours).",
    )
    add_settings_arguments(settings, "settings file to normalise (default: the defaults)", optional=True)
    settings.add_argument("--list", action="store_true", help="list every setting with its default")
    settings.set_defaults(run=run_settings)

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
    schedule.set_defaults(run=run_schedule)
