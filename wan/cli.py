"""Command line: `python -m wan plan|movement|enhance|generate|interpolate|check|models|settings|schedule`.

Bad input ends with a message, not a traceback; nothing but `generate` (and `interpolate
--method neural`) imports torch."""

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
    from .progress import ProgressBar, format_seconds
    from .render import ResumeMismatchError, RunFolder, render
    from .render.engine import RenderError

    overrides = list(args.set)
    if args.model:
        overrides.append(f"model={json.dumps(args.model)}")
    if args.memory:
        overrides.append(f"memory_preset={json.dumps(args.memory)}")
    if args.speed:
        overrides.append(f"speed_preset={json.dumps(args.speed)}")
    config, report = _load(args.settings, overrides)
    _report(report)
    api = _api(args)
    if args.resume:
        folder = RunFolder(args.resume)
        if not folder.plan_path.is_file():
            raise UserError(f"{args.resume} is not a run folder (it has no plan.json)")
        run_dir = folder.root
        plan, _ = api.plan_run(config, run_dir)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = Path(args.out) if args.out else Path(config.output.dir or "outputs/wan-videos") / stamp
        plan = api.create_generation_plan(config, seed=args.seed)
        if config.enhancement.enabled:
            print("enhancing prompts...", file=sys.stderr)
            enhanced, results = _enhance_plan(api, plan, config, args)
            print(_format_enhancement(plan, enhanced, results), file=sys.stderr)
            plan = enhanced
    if any(model.startswith("tiny") for model in {plan.model, plan.i2v_model} if model):
        print(
            "note: the tiny model has random weights: the video is noise. It checks that the install "
            "works end to end.",
            file=sys.stderr,
        )
    options = api.render_options(
        config, save_frames=config.output.save_frames or args.frames_only, write_video=not args.frames_only
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


def _api(args: argparse.Namespace) -> Any:
    from .service import WanAPI

    return WanAPI(models_dir=args.models_dir, allow_download=args.allow_download, device=args.device)


def _enhance_plan(
    api: Any, plan: GenerationPlan, config: WanConfig, args: argparse.Namespace
) -> tuple[GenerationPlan, list]:
    """The plan with enhanced prompts; the enhancer is unloaded before this returns."""
    from .models.resolve import ModelNotFoundError
    from .prompts import EnhancerError

    try:
        return api.enhance_plan(
            plan, config, api_key=getattr(args, "api_key", None), cache=not getattr(args, "no_cache", False)
        )
    except (EnhancerError, ModelNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None


def _format_enhancement(before: GenerationPlan, after: GenerationPlan, results: list) -> str:
    lines = []
    for old, new, result in zip(before.clips, after.clips, results, strict=True):
        frames = f"{new.start_frame}-{new.end_frame - 1}" if new.end_frame > new.start_frame else "-"
        lines.append(f"clip {new.index} (frames {frames}) [{result.source}]")
        lines.append(f"  before: {old.prompt}")
        lines.append(f"  after:  {new.prompt}")
        if new.enhancement:
            lines.append(f"  note:   {new.enhancement}")
    return "\n".join(lines)


def _enhance_overrides(args: argparse.Namespace) -> list[str]:
    names = ("model", "backend", "language", "strength", "max_words", "api_url")
    return [
        f"enhance_{name}={json.dumps(getattr(args, name))}"
        for name in names
        if getattr(args, name, None) is not None
    ]


def _cmd_enhance(args: argparse.Namespace) -> int:
    from .plan import create_plan

    config, report = _load(args.settings, [*args.set, *_enhance_overrides(args)])
    _report(report)
    plan = create_plan(config, seed=args.seed)
    enhanced, results = _enhance_plan(_api(args), plan, config, args)
    if args.json:
        rows = [
            {"clip": clip.index, "before": old.prompt, **result.to_dict(), "prompt": clip.prompt}
            for old, clip, result in zip(plan.clips, enhanced.clips, results, strict=True)
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        options = config.enhancement
        print(
            f"enhancer: {options.backend} {options.model} | strength {options.strength:g} | "
            f"{'Chinese' if options.language == 'zh' else 'English'} | movement context "
            f"{'on' if options.movement_context else 'off'}\n"
        )
        print(_format_enhancement(plan, enhanced, results))
    return 0


def _option_errors(exc: Exception, options: dict[str, str]) -> UserError:
    """A settings error about named fields, as one line about the command-line options."""
    errors = getattr(exc, "errors", ())
    if not errors:
        return UserError(str(exc))
    return UserError("; ".join(f"{options.get(e.key, e.key)}: {e.message} (got {e.value!r})" for e in errors))


def _cmd_interpolate(args: argparse.Namespace) -> int:
    from .config import OutputOptions, SettingsError
    from .post.files import interpolate_video
    from .post.interpolation import InterpolationConfig, NeuralWeightsError
    from .post.video import VideoReadError

    options = {name: f"--{name}" for name in ("fps", "method", "quality", "strength", "weights")}
    try:
        config = InterpolationConfig(
            fps=args.fps,
            method=args.method,
            quality=args.quality,
            strength=args.strength,
            weights=args.weights,
        )
        crf = OutputOptions(crf=args.crf).crf
    except SettingsError as exc:
        raise _option_errors(exc, options | {"output_crf": "--crf"}) from None
    source = Path(args.input)
    target = Path(args.out) if args.out else source.with_name(f"{source.stem}_{config.fps:g}fps.mp4")
    if target.resolve() == source.resolve():
        raise UserError(f"--out: must differ from the input video (got '{target}')")
    try:
        result = interpolate_video(
            source,
            target,
            config,
            crf=crf,
            device=args.device,
            on_note=lambda note: print(f"note: {note}", file=sys.stderr),
        )
    except VideoReadError as exc:
        raise UserError(f"IN: {exc}") from None
    except NeuralWeightsError as exc:
        raise UserError(f"--weights: {exc}") from None
    print(
        f"wrote {result.path}: {result.output_frames} frames at {config.fps:g} fps from "
        f"{result.input_frames} frames at {result.source.fps:g} fps "
        f"({result.method}, {config.quality}, strength {config.strength:g})"
    )
    return 0


def _joins(text: str) -> tuple[int, ...]:
    try:
        joins = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        joins = (-1,)
    if any(j < 1 for j in joins):
        raise UserError(
            f"--joins: must be frame numbers from 1 up, separated by commas, e.g. 17,33 (got '{text}')"
        )
    return joins


def _cmd_check(args: argparse.Namespace) -> int:
    from .post.files import check_video
    from .post.video import VideoReadError

    joins = _joins(args.joins)
    try:
        info, report = check_video(args.input, joins)
    except VideoReadError as exc:
        raise UserError(f"IN: {exc}") from None
    if args.json:
        video = {"video": str(info.path), "fps": info.fps, "width": info.width, "height": info.height}
        print(json.dumps(video | report.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(f"{info.path}: {report.frames} frames, {info.width}x{info.height} at {info.fps:g} fps")
    print(report.table())
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UserError("the server needs fastapi and uvicorn: pip install -e '.[serve]'") from None
    from .server import serve

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be from 1 to 65535, not {args.port}")
    serve(
        host=args.host,
        port=args.port,
        api_auth=args.api_auth,
        output_dir=args.output_dir,
        models_dir=args.models_dir,
        allow_download=args.allow_download,
        device=args.device,
    )
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from .service import WanAPI

    listing = WanAPI(models_dir=args.models_dir).list_models()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    print(f"models folder: {listing['models_dir']}")
    for row in listing["models"]:
        size = f"{row['transformer_gb_bf16']:5.1f} GB" if row["transformer_gb_bf16"] else "   tiny "
        state = (
            f"present: {row['present']}"
            if row["present"]
            else ("built on first use" if row["id"].startswith("tiny") else "not downloaded")
        )
        print(f"  {row['id']:<14} {row['kind']:<5} {size}  {state}")
        print(f"      {row['description']}" + (f" ({row['hub_id']})" if row["hub_id"] else ""))
    print("prompt enhancers (enhance_model):")
    for row in listing["enhancers"]:
        state = "present" if row["present"] else "not downloaded"
        print(f"  {row['id']:<14} {row['vram_gb_bf16']:5.1f} GB  {state}  ({row['hub_id']})")
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


def _add_model_arguments(
    parser: argparse.ArgumentParser, *, device: bool = True, download: bool = True
) -> None:
    """--models-dir, and --allow-download and --device where models are loaded."""
    parser.add_argument("--models-dir", help="folder of models (default: $WAN_MODELS_DIR or ./models/wan)")
    if download:
        parser.add_argument(
            "--allow-download", action="store_true", help="download missing models from the hub"
        )
    if device:
        parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")


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
    generate.add_argument("--memory", help="memory preset: auto, none, conservative, balanced, aggressive")
    generate.add_argument(
        "--speed", metavar="PRESET", help="speed preset: quality (lossless), fast, fastest, distilled"
    )
    _add_model_arguments(generate)
    generate.set_defaults(run=_cmd_generate)

    enhance = commands.add_parser(
        "enhance",
        help="rewrite each clip's prompt with Qwen (or a chat server) and show before/after",
        description="Plan the settings, enhance every clip's prompt in one batch, print before and after.",
    )
    _add_analysis_arguments(enhance, "before/after of every clip")
    enhance.add_argument(
        "--model", help="enhancer: auto, qwen2.5-0.5b/1.5b/3b/7b/14b, qwen3-*, hub id or folder"
    )
    enhance.add_argument("--backend", help="qwen (local) or openai (an OpenAI-compatible server)")
    enhance.add_argument("--api-url", help="openai backend: base URL, e.g. http://127.0.0.1:8080/v1")
    enhance.add_argument(
        "--api-key", help="openai backend: key (default: $WAN_ENHANCE_API_KEY or $OPENAI_API_KEY)"
    )
    enhance.add_argument("--language", help="en or zh")
    enhance.add_argument("--strength", type=float, help="0 keeps the prompts, 1 rewrites freely")
    enhance.add_argument("--max-words", type=int, help="word limit of an enhanced prompt")
    _add_model_arguments(enhance)
    enhance.add_argument("--no-cache", action="store_true", help="ask the model again even if cached")
    enhance.set_defaults(run=_cmd_enhance)

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
    interpolate.set_defaults(run=_cmd_interpolate)

    check = commands.add_parser(
        "check",
        help="measure the quality of any video: consistency, flicker, seams, drift, broken frames",
        description="Quality checks of a video; prints each metric with its warning threshold.",
    )
    check.add_argument("input", metavar="IN", help="video file (anything ffmpeg reads)")
    check.add_argument("--joins", default="", help="frames where a new clip starts, e.g. 17,33")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(run=_cmd_check)

    serve = commands.add_parser(
        "serve",
        help="run the REST API with its job queue as a standalone server",
        description="Serve /wan/v1 with a persistent job queue; binds 127.0.0.1 unless --host says so.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1 only)")
    serve.add_argument("--port", type=int, default=7861, help="port (default: 7861)")
    serve.add_argument("--api-auth", metavar="USER:PASS[,USER:PASS]", help="require HTTP Basic credentials")
    serve.add_argument("--output-dir", help="where jobs and videos go (default: outputs/wan-videos)")
    _add_model_arguments(serve)
    serve.set_defaults(run=_cmd_serve)

    models = commands.add_parser(
        "models", help="list the known video and enhancer models and which are on this machine"
    )
    _add_model_arguments(models, device=False, download=False)
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
