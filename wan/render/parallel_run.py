"""One render over several processes (`python -m wan generate --gpus N`): this process starts the
process group itself, torchrun-style (each child gets MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
and LOCAL_RANK and joins with wan.parallel.join_group), and waits for it.

Every rank renders the same plan with the same seeds (wan.parallel says how the transformer's
work is shared). Rank 0 renders into the run folder and sends its progress here; the others
render into a scratch folder of their own (wan.render.ranks: a copy of the run folder when
resuming or re-rendering, so they read the same previous clips for VACE chaining), which is
removed afterwards.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

from ..errors import WanError
from ..parallel import free_port, join_group, leave_group, rank_environment
from ..plan import GenerationPlan
from .engine import render
from .events import ProgressCallback
from .options import RenderOptions
from .ranks import copy_of, rank_folder
from .result import VideoResult
from .run_folder import Mode

__all__ = ["free_port", "render_in_group"]


def _rank_main(
    local_rank: int,
    world: int,
    port: int,
    device_type: str,
    plan: GenerationPlan,
    run_dir: str,
    options: RenderOptions,
    settings: dict[str, Any] | None,
    mode: Mode,
    events: Any,
) -> None:
    """One rank: join the group, render, leave (the body of each child process)."""
    group = join_group(device_type, rank_environment(local_rank, world, "127.0.0.1", port, local_rank))
    try:
        callback = None
        if group.writes:
            callback = lambda event: events.put(("event", dataclasses.replace(event, preview=None)))  # noqa: E731
        # the clips it goes on from, or reuses, are in the run folder
        seed = copy_of(run_dir) if mode != "new" else None
        with rank_folder(group, run_dir, seed) as target:
            result = render(plan, target, options=options, callback=callback, mode=mode, settings=settings)
        if group.writes:
            events.put(("done", result))
    except BaseException as exc:
        events.put(("error", (group.rank, exc if isinstance(exc, WanError) else RuntimeError(repr(exc)))))
        raise
    finally:
        leave_group()


def render_in_group(
    processes: int,
    plan: GenerationPlan,
    run_dir: str | Path,
    *,
    device_type: str,
    options: RenderOptions | None = None,
    callback: ProgressCallback | None = None,
    resume: bool = False,
    settings: dict[str, Any] | None = None,
    mode: Mode | None = None,
) -> VideoResult:
    """Render `plan` into `run_dir` with `processes` ranks on `device_type` ("cuda": one GPU each,
    NCCL; "cpu": gloo), relaying rank 0's progress to `callback`; `mode` as render() takes it."""
    import torch.multiprocessing as mp

    context = mp.get_context("spawn")
    events = context.SimpleQueue()
    arguments = (
        processes,
        free_port(),
        device_type,
        plan,
        str(run_dir),
        options or RenderOptions(),
        settings,
        mode or ("resume" if resume else "new"),
    )
    box: dict[str, Any] = {}

    def relay() -> None:
        while True:
            kind, value = events.get()
            if kind == "event":
                if callback is not None:
                    callback(value)
            elif kind == "stop":
                return
            else:
                box.setdefault(kind, value)

    reader = threading.Thread(target=relay, name="wan-rank-events", daemon=True)
    reader.start()
    try:
        mp.start_processes(
            _rank_main, args=(*arguments, events), nprocs=processes, join=True, start_method="spawn"
        )
    except mp.ProcessRaisedException as exc:
        events.put(("stop", None))
        reader.join(10)
        failure = box.get("error")
        if failure is not None and isinstance(failure[1], WanError):
            raise failure[1] from None
        raise WanError(f"a process of the render group failed: {str(exc).strip().splitlines()[-1]}") from exc
    except mp.ProcessExitedException as exc:
        events.put(("stop", None))
        raise WanError(f"a process of the render group stopped: {exc}") from None
    events.put(("stop", None))
    reader.join(30)
    if "done" not in box:
        raise WanError("the render group ended without a result from rank 0")
    return box["done"]
