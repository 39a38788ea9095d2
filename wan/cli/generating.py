"""Commands that run models: generate and enhance."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import (
    UserError,
    add_analysis_arguments,
    add_model_arguments,
    add_settings_arguments,
    api_of,
    load,
    print_report,
    seed_argument,
)

if TYPE_CHECKING:
    from ..plan import GenerationPlan


def format_enhancement(before: GenerationPlan, after: GenerationPlan, results: list[Any]) -> str:
    """Each clip's prompt before and after enhancement, and what happened to it."""
    lines = []
    for old, new, result in zip(before.clips, after.clips, results, strict=True):
        frames = f"{new.start_frame}-{new.end_frame - 1}" if new.end_frame > new.start_frame else "-"
        lines.append(f"clip {new.index} (frames {frames}) [{result.source}]")
        lines.append(f"  before: {old.prompt}")
        lines.append(f"  after:  {new.prompt}")
        if new.enhancement:
            lines.append(f"  note:   {new.enhancement}")
    return "\n".join(lines)


def format_reuse(rows: list[Any]) -> str:
    """What a re-render does with each clip: runs of reused clips (and the take that rendered
    them), then each clip it renders and why."""
    lines: list[str] = []
    run: list[Any] = []

    def flush() -> None:
        if run:
            clips = f"clip {run[0].index}" if len(run) == 1 else f"clips {run[0].index}-{run[-1].index}"
            lines.append(f"  {clips}: reused (take {run[0].take})")
            run.clear()

    for row in rows:
        if row.reused and (not run or run[-1].take == row.take):
            run.append(row)
            continue
        flush()
        if row.reused:
            run.append(row)
        else:
            lines.append(f"  clip {row.index}: render ({', '.join(row.changed)} changed)")
    flush()
    reused = sum(row.reused for row in rows)
    return "\n".join([f"re-render: {len(rows) - reused} clip(s) to render, {reused} reused", *lines])


def group_gpus(value: str, api: Any) -> int:
    """How many GPUs render the clip together (--gpus): with indices, only those are visible to
    the group; with one GPU the render runs on it alone."""
    import os

    from ..models.devices import probe_gpus
    from ..service.gpus import parse_gpus, select_gpus

    if api.device:
        raise UserError("--device: leave it out with --gpus (each process of the group takes one GPU)")
    gpus = probe_gpus()
    chosen = select_gpus(parse_gpus(value), gpus)
    if len(chosen) == 1:  # this process renders, on that GPU
        api.device = next(
            f"cuda:{g['index']}" for g in gpus if g.get("physical_index", g["index"]) == chosen[0]
        )
        return 1
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, chosen))  # the group's processes see these
    return len(chosen)


def run_generate(args: argparse.Namespace) -> int:
    """`generate`: plan and render a video; finished clips are kept, so a run can be resumed, and
    `--from` re-renders only the clips that changed."""
    from ..progress import ProgressBar, format_seconds, stage_summary
    from ..render import RunFolder

    flags = {
        "model": args.model,
        "memory_preset": args.memory,
        "speed_preset": args.speed,
        "from_run": args.from_run,
        "preview_enabled": True if args.preview else None,
    }
    if args.resume and args.from_run:
        raise UserError("--resume continues a run as it was; --from re-renders what changed: give one")
    config, report = load(args.settings, args.set, flags, models_dir=getattr(args, "models_dir", None))
    print_report(report)
    api = api_of(args)
    processes = group_gpus(args.gpus, api) if args.gpus else 1
    if args.resume:
        if not RunFolder(args.resume).is_run():
            raise UserError(
                f"--resume: {args.resume} is not a run folder (it has no takes/ and no plan.json)"
            )
        run_dir = Path(args.resume)
    else:
        run_dir = Path(args.out) if args.out and not config.from_run else api.run_dir_for(config)
    if config.from_run:
        _plan, rows = api.compare_with_run(config)
        print(format_reuse(rows), file=sys.stderr)
    if config.enhancement.enabled and not args.resume:
        print("enhancing prompts...", file=sys.stderr)
    plan, results = api.plan_run(config, run_dir if args.resume else None, seed=args.seed)
    if results and len(results) == len(plan.clips):
        print(
            format_enhancement(api.create_generation_plan(config, seed=plan.seed), plan, results),
            file=sys.stderr,
        )
    elif results:
        print(f"enhanced {len(results)} changed prompt(s); the others are the run's", file=sys.stderr)
    if config.model_spec.tiny or (config.i2v_spec is not None and config.i2v_spec.tiny):
        print(
            "note: the tiny model has random weights: the video is noise. It checks that the install "
            "works end to end.",
            file=sys.stderr,
        )
    for warning in plan.warnings:
        if warning.startswith("preview:"):
            print(f"note: {warning}", file=sys.stderr)
    print(f"run folder: {run_dir}", file=sys.stderr)
    try:
        result = api.generate(
            config,
            plan=plan,
            run_dir=run_dir,
            resume=bool(args.resume),
            callback=ProgressBar(),
            write_video=not args.frames_only,
            processes=processes,
        )
    except KeyboardInterrupt:
        again = "--from" if config.from_run else "--resume"
        print(f"\ninterrupted: finished clips are kept; continue with {again} {run_dir}", file=sys.stderr)
        return 130
    if result.clips_rendered == 0:
        print(f"take {result.take}: nothing was left to generate: every clip was already there")
    else:
        rendered = [clip for clip in result.metrics["clips"] if clip["index"] in result.rendered]
        seconds = sum(clip["seconds"] for clip in rendered)
        frames = sum(plan.clips[index].num_frames for index in result.rendered)
        rate = f"{seconds / frames:.2f} s/frame"
        reused = len(plan.clips) - result.clips_rendered
        print(
            f"take {result.take}: generated {result.clips_rendered} clip(s) in {format_seconds(seconds)} "
            f"({rate})" + (f", reused {reused}" if reused else "")
        )
        print(f"time went to: {stage_summary(result.metrics.get('stages'))} (metrics.json: stages)")
    if result.video:
        print(f"video: {result.video}")
    if result.frames_dir:
        print(f"frames: {result.frames_dir}")
    return 0


def run_enhance(args: argparse.Namespace) -> int:
    """`enhance`: every clip's prompt before and after enhancement."""
    import json

    flags = {
        "enhance_model": args.model,
        "enhance_backend": args.backend,
        "enhance_language": args.language,
        "enhance_strength": args.strength,
        "enhance_max_words": args.max_words,
        "enhance_api_url": args.api_url,
    }
    config, report = load(args.settings, args.set, flags, models_dir=getattr(args, "models_dir", None))
    print_report(report)
    api = api_of(args)
    plan = api.create_generation_plan(config, seed=args.seed)
    enhanced, results = api.enhance_plan(plan, config, api_key=args.api_key, cache=not args.no_cache)
    if args.json:
        rows = [
            {"clip": clip.index, "before": old.prompt, **result.to_dict(), "prompt": clip.prompt}
            for old, clip, result in zip(plan.clips, enhanced.clips, results, strict=True)
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    options = config.enhancement
    print(
        f"enhancer: {options.backend} {options.model} | strength {options.strength:g} | "
        f"{'Chinese' if options.language == 'zh' else 'English'} | movement context "
        f"{'on' if options.movement_context else 'off'}\n"
    )
    print(format_enhancement(plan, enhanced, results))
    return 0


def register(commands: Any) -> None:
    """Add generate and enhance."""
    from ..config import MEMORY_CHOICES, SPEED_PRESETS

    generate = commands.add_parser(
        "generate",
        help="generate the video with a Wan model (needs pip install -e '.[models]')",
        description="Plan and render a video; every finished clip is kept, so a run can be resumed.",
    )
    add_settings_arguments(generate, "settings file (JSON; Deforum .txt files too)")
    generate.add_argument("--model", metavar="ID|PATH", help="model id (python -m wan models) or folder")
    generate.add_argument(
        "--out", metavar="DIR", help="run folder (default: in output_dir, else outputs/wan-videos)"
    )
    generate.add_argument("--resume", metavar="DIR", help="continue an interrupted run in DIR")
    generate.add_argument(
        "--from",
        dest="from_run",
        metavar="RUN_DIR",
        help="re-render into RUN_DIR as a new take: only the clips from the first change on (from_run)",
    )
    generate.add_argument(
        "--preview", action="store_true", help="a quick preview: smaller, fewer steps (preview_enabled)"
    )
    generate.add_argument("--frames-only", action="store_true", help="write the frames, not the MP4")
    generate.add_argument(
        "--seed", type=seed_argument, default=None, help="seed to use when the settings say -1"
    )
    generate.add_argument("--memory", metavar="PRESET", help="memory preset: " + ", ".join(MEMORY_CHOICES))
    generate.add_argument(
        "--gpus",
        metavar="all|N|0,2",
        help="render each clip on several GPUs at once (a process per GPU: the sequence split across "
        "them, and the two guidance passes on two of them)",
    )
    generate.add_argument("--speed", metavar="PRESET", help="speed preset: " + ", ".join(SPEED_PRESETS))
    add_model_arguments(generate)
    generate.set_defaults(run=run_generate)

    enhance = commands.add_parser(
        "enhance",
        help="rewrite each clip's prompt with Qwen (or a chat server) and show before/after",
        description="Plan the settings, enhance every clip's prompt in one batch, print before and after.",
    )
    add_analysis_arguments(enhance, "before/after of every clip")
    enhance.add_argument(
        "--model", help="enhancer: auto, qwen2.5-0.5b/1.5b/3b/7b/14b, qwen3-*, hub id or folder"
    )
    enhance.add_argument("--backend", help="qwen (local) or openai (an OpenAI-compatible server)")
    enhance.add_argument("--api-url", help="openai backend: base URL, e.g. http://127.0.0.1:8080/v1")
    enhance.add_argument(
        "--api-key", help="openai backend: key (default: $WAN_ENHANCE_API_KEY or $OPENAI_API_KEY)"
    )
    enhance.add_argument("--language", help="en or zh")
    enhance.add_argument("--strength", help="0 keeps the prompts, 1 rewrites freely")
    enhance.add_argument("--max-words", help="word limit of an enhanced prompt")
    add_model_arguments(enhance)
    enhance.add_argument("--no-cache", action="store_true", help="ask the model again even if cached")
    enhance.set_defaults(run=run_enhance)
