"""Commands about the server and the machine: serve, worker, runtime, models."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import UserError, add_model_arguments, api_of


def run_serve(args: argparse.Namespace) -> int:
    """`serve`: the REST API (and the UI) with its job queue."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UserError("the server needs fastapi and uvicorn: pip install -e '.[serve]'") from None
    from ..server import serve
    from ..service.auth import parse_credentials

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be from 1 to 65535, not {args.port}")
    check_worker_options(args)
    try:
        parse_credentials(args.api_auth)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    serve(
        host=args.host,
        port=args.port,
        api_auth=args.api_auth,
        output_dir=args.output_dir,
        models_dir=args.models_dir,
        allow_download=args.allow_download,
        device=args.device,
        chat_servers=tuple(args.chat_server),
        runtime_dir=args.runtime_dir,
        gpus=args.gpus,
        workers=args.workers or 1,
        ray=args.ray,
        ray_workers=args.workers,
        ray_shared_output=args.ray_shared_output,
        ray_group_size=group_size_of(args),
        keep_model=args.keep_model,
    )
    return 0


def group_size_of(args: argparse.Namespace) -> int:
    """--group-size as a number (1 when it is not given)."""
    from ..cluster.sizing import check_group_size

    value = getattr(args, "group_size", None)
    return 1 if value is None else check_group_size(value)


def check_worker_options(args: argparse.Namespace) -> None:
    """--gpus and --workers: well formed, and not both (UserError names the option)."""
    from ..service.gpus import parse_gpus

    if args.gpus is not None:
        parse_gpus(args.gpus)
        if args.workers is not None:
            raise UserError("--workers: leave it out with --gpus (--gpus starts one worker per GPU)")
    check_keep_model(args.keep_model)
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise UserError(f"--workers must be from 1 to 64 worker processes, not {args.workers}")
    if getattr(args, "ray", None) is not None:
        from ..cluster.connect import parse_ray_address
        from ..cluster.sizing import check_group_gpus, ray_gpu_request

        parse_ray_address(args.ray)
        if args.gpus is not None:
            ray_gpu_request(args.gpus)
            check_group_gpus(args.gpus, group_size_of(args))
        group_size_of(args)
    elif getattr(args, "ray_shared_output", False):
        raise UserError("--ray-shared-output: only with --ray (the output folder every Ray node mounts)")
    elif getattr(args, "group_size", None) is not None:
        raise UserError("--group-size: only with --ray (a group is that many Ray actors rendering one job)")


def check_keep_model(seconds: float) -> None:
    """--keep-model: from 0 to a day (UserError otherwise)."""
    from ..service.worker import MAX_KEEP_SECONDS

    if not 0 <= seconds <= MAX_KEEP_SECONDS:
        raise UserError(
            f"--keep-model must be from 0 (unload after each job) to {MAX_KEEP_SECONDS:g} seconds, "
            f"not {seconds:g}"
        )


def run_worker(args: argparse.Namespace) -> int:
    """`worker`: a worker process of a server's queue (the server starts these)."""
    from ..service.worker_process import main_enhance, run_worker

    check_keep_model(args.keep_model)
    api = api_of(args)
    if args.task == "enhance":
        return main_enhance(api)
    if not args.queue or not args.id:
        raise UserError("worker: --queue and --id are needed (a server starts its workers itself)")
    api.keep_models = args.keep_model > 0
    return run_worker(args.queue, args.id, api=api, idle_exit=args.idle_exit, keep_seconds=args.keep_model)


def run_runtime(args: argparse.Namespace) -> int:
    """`runtime`: prepare, check or remove the extension's runtime environment."""
    from ..runtime import RuntimeEnv, prepare_runtime, remove_runtime

    env = RuntimeEnv(args.dir)
    if args.action == "prepare":
        return 0 if prepare_runtime(env) else 1
    if args.action == "remove":
        remove_runtime(env)
        print(f"removed {args.dir}")
        return 0
    status = env.status()
    print(json.dumps(status.to_dict(), indent=2) if args.json else f"{status.state}: {status.message}")
    return 0 if status.ready else 1


def _sizes(row: dict[str, Any]) -> str:
    defaults = row["defaults"]
    guidance = f"{defaults['guidance_scale']:g}"
    if defaults["guidance_scale_2"] is not None:
        guidance += f" / {defaults['guidance_scale_2']:g}"
    shift = f"{defaults['flow_shift']:g}" if defaults["flow_shift"] is not None else "3 at 480p, 5 at 720p"
    return (
        f"{row['fps']} fps, up to {row['max_frames']} frames, {' or '.join(row['sizes'])} (multiples of "
        f"{row['size_multiple']}); {defaults['steps']} steps, guidance {guidance}, flow shift {shift}"
    )


def _memory(row: dict[str, Any]) -> list[str]:
    table = row["memory_gb"]
    width, height = row["sizes"][0].split("x")
    lines = [
        f"      GPU memory, GiB (weights: whole model on the GPU | one component at a time), "
        f"{width}x{height}, {row['max_frames']} frames:"
    ]
    cells = [
        f"{name} {values['weights']:.1f}: {values['all']:.1f} | {values['offload']:.1f}"
        for name, values in table.items()
    ]
    lines += ["        " + "   ".join(cells[i : i + 3]) for i in range(0, len(cells), 3)]
    return lines


def list_models(args: argparse.Namespace) -> int:
    """`models` (list): the known video and enhancer models, which are here, and the LoRAs."""
    listing = api_of(args).list_models()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    print(f"models folder: {listing['models_dir']}")
    for row in listing["models"]:
        if row["tiny"]:
            size, state = "   tiny", "built on first use"
        else:
            size = f"{row['transformer_gb_bf16']:5.1f} GB"
            state = f"about {row['download_gb']:.1f} GB in bf16, not downloaded"
        if row["present"]:
            state = f"present: {row['present']}"
        experts = f" x{row['experts']}" if row["experts"] > 1 else ""
        print(f"  {row['id']:<18} {row['kind']:<5}{experts:<3} {size}  {state}")
        print(f"      {row['description']}" + (f" ({row['hub_id']})" if row["hub_id"] else ""))
        if not row["tiny"]:
            print(f"      {_sizes(row)}")
            print("\n".join(_memory(row)))
    print("prompt enhancers (enhance_model; GPU memory it needs in bf16):")
    for row in listing["enhancers"]:
        if row["tiny"]:
            size, state = "   tiny", "built on first use"
        else:
            size = f"{row['vram_gb_bf16']:5.1f} GB"
            state = f"download {row['download_gb']:.1f} GB, not downloaded"
        if row["present"]:
            state = "present"
        where = f"  ({row['hub_id']})" if row["hub_id"] else "  (tiny random model for tests)"
        print(f"  {row['id']:<14} {size}  {state}{where}")
    print(f"LoRAs (loras, speed_lora), in {', '.join(listing['lora_folders'])}:")
    for row in listing["loras"]:
        print(f"  {row['name']:<30} {row['file']}")
    if not listing["loras"]:
        print("  none")
    return 0


def gpu_lines(gpus: list[dict[str, Any]]) -> list[str]:
    """One line per GPU: index, name, memory, free memory, compute capability, preset."""
    if not gpus:
        return ["  no GPU (torch sees no CUDA device): renders run on the CPU"]
    return [
        f"  GPU {gpu.get('physical_index', gpu['index'])}: {gpu['name']}, {gpu['vram_gb']:.1f} GiB "
        f"({gpu['free_gb']:.1f} free), compute capability {gpu['compute_capability']}, "
        f"memory preset auto -> {gpu['memory_preset']}"
        for gpu in gpus
    ]


def show_system(args: argparse.Namespace) -> int:
    """`models --system`: this machine's GPUs, versions and suggested presets."""
    info = api_of(args).system_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    versions = ", ".join(f"{name} {version or 'missing'}" for name, version in info["versions"].items())
    print(f"Python {info['python']} on {info['platform']}; {versions}")
    print("\n".join(gpu_lines(info["gpus"])))
    return 0


def run_models(args: argparse.Namespace) -> int:
    """`models`: list the models, or download or remove one; --system: this machine's GPUs."""
    if args.system:
        if args.action != "list" or args.id:
            raise UserError("models --system takes no action or model id")
        return show_system(args)
    if args.action == "list":
        if args.id:
            raise UserError("models list takes no model id (models download ID, models remove ID)")
        return list_models(args)
    if not args.id:
        raise UserError(
            f"models {args.action} needs a model id, e.g. python -m wan models {args.action} vace-1.3b"
        )
    from pathlib import Path

    models_dir = Path(args.models_dir) if args.models_dir else None
    if args.action == "download":
        from ..models.download import download_model

        download_model(args.id, models_dir, all_files=args.all_files)
        return 0
    from ..models.download import remove_model

    removed = remove_model(args.id, models_dir)
    print("\n".join(f"removed {path}" for path in removed) or f"{args.id} is not in the models folder")
    return 0


def register(commands: Any) -> None:
    """Add serve, worker, runtime and models."""
    serve = commands.add_parser(
        "serve",
        help="run the REST API with its job queue (and the UI) as a standalone server",
        description="Serve /wan/v1 with a persistent job queue; binds 127.0.0.1 unless --host says so.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1 only)")
    serve.add_argument("--port", type=int, default=7861, help="port (default: 7861)")
    serve.add_argument("--api-auth", metavar="USER:PASS[,USER:PASS]", help="require HTTP Basic credentials")
    serve.add_argument("--output-dir", help="where jobs and videos go (default: outputs/wan-videos)")
    serve.add_argument(
        "--chat-server",
        action="append",
        default=[],
        metavar="URL",
        help="a chat server prompt enhancement may call with this server's key (repeatable; also "
        "$WAN_ENHANCE_API_URL)",
    )
    serve.add_argument(
        "--runtime-dir", help="a runtime environment for the workers (default: this interpreter)"
    )
    serve.add_argument(
        "--gpus",
        metavar="all|N|0,2",
        help="one worker process per GPU: all of them, the first N, or these indices (default: one "
        "worker on the default device)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="N worker processes on the default device (on a machine without GPU: CPU workers)",
    )
    serve.add_argument(
        "--ray",
        metavar="auto|local|ADDRESS",
        help="run the workers as Ray actors (one GPU each, or groups: --group-size): on the running "
        "cluster (auto), on a "
        "cluster started here (local) or at HOST:PORT; needs pip install -e '.[cluster]'",
    )
    serve.add_argument(
        "--group-size",
        metavar="N",
        help="with --ray: each worker is a group of N actors (N GPUs, or N CPU actors) that render one "
        "job together, every step split between them (context / CFG parallel); a group stays on one "
        "node (a Ray placement group, STRICT_PACK). --gpus all|M makes M/N groups, --workers M makes M "
        "groups; default 1 (one actor per job)",
    )
    serve.add_argument(
        "--ray-shared-output",
        action="store_true",
        help="with --ray: every node mounts the output folder at the same path, the actors write the "
        "run folders there (checked at start); without it the clips are shipped to the head",
    )
    serve.add_argument(
        "--keep-model",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="a worker keeps its last job's model loaded this long without a job, so the next job of that "
        "model starts at once (0: unload after each job; default 600; Ray actors keep theirs)",
    )
    add_model_arguments(serve)
    serve.set_defaults(run=run_serve)

    worker = commands.add_parser(
        "worker",
        help="a worker process of a server's job queue (servers start these themselves)",
        description="Render the jobs a server assigns, until standard input closes.",
    )
    worker.add_argument("--queue", help="the server's queue folder")
    worker.add_argument("--id", help="this worker's id")
    worker.add_argument("--idle-exit", type=float, default=None, help="stop after this many idle seconds")
    worker.add_argument("--task", choices=["enhance"], help="enhance: one request from standard input")
    worker.add_argument(
        "--keep-model",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep the last job's model loaded this long without a job (0: unload after each job)",
    )
    add_model_arguments(worker)
    worker.set_defaults(run=run_worker)

    runtime = commands.add_parser(
        "runtime",
        help="prepare, check or remove the WebUI extension's own runtime environment",
        description="The runtime environment where a WebUI's Wan workers run (see the README).",
    )
    runtime.add_argument("action", choices=["prepare", "status", "remove"])
    runtime.add_argument("--dir", required=True, help="the runtime folder")
    runtime.add_argument("--json", action="store_true", help="status as JSON")
    runtime.set_defaults(run=run_runtime)

    models = commands.add_parser(
        "models",
        help="list the known models and which are here; download or remove one",
        description="The video and prompt-enhancer models this tool knows, their sizes, the GPU memory each "
        "weights format needs and which are here (list, the default); download a model into the models "
        "folder (resumable, after a free-disk check) or remove it from there.",
    )
    models.add_argument("action", nargs="?", choices=["list", "download", "remove"], default="list")
    models.add_argument("id", nargs="?", metavar="ID", help="model id (download, remove)")
    add_model_arguments(models, device=False, download=False)
    models.add_argument("--json", action="store_true", help="list, --system: print JSON")
    models.add_argument(
        "--system",
        action="store_true",
        help="this machine's GPUs (name, memory, free memory, compute capability, memory preset) "
        "and versions",
    )
    models.add_argument(
        "--all-files",
        action="store_true",
        help="download: the whole repository, not only what diffusers loads",
    )
    models.set_defaults(run=run_models)
