"""Iterating benchmark: editing the last of 8 prompts re-renders only the clips from that prompt on.

1. A full render of 8 prompts (one clip each) into a new run folder: clips rendered, seconds.
2. The last prompt edited, re-rendered from that run (`from_run`, a new take): which clips are
   reused and which rendered (listed beforehand, without torch), clips rendered, seconds.
3. Only post-processing changed (interpolation method): clips rendered (none), seconds.
The frames of the reused clips are checked to be the very files of the first take.

Run: python benchmarks/bench_iterate.py [--steps 10] [--size 64] [--model tiny] [--device cpu]
Every render loads the model; on a real model and a GPU the re-render's share of the full render's
time is about its share of the clips. Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path

from common import append_results, command, load_average, machine, versions

from wan.config import InterpolationOptions, config_from_dict
from wan.plan import create_plan
from wan.render import RenderOptions, RunFolder, render
from wan.render.options import config_factors

PROMPTS = [
    "a misty forest at dawn",
    "a stone path between ferns",
    "an old wooden bridge over a stream",
    "a village in the valley",
    "a market square at noon",
    "a castle on the hill",
    "the castle's great hall",
    "a tower room lit by candles",
]


def settings(steps: int, size: int, model: str, last: str) -> dict:
    """8 prompts, 12 new model frames each: one 17-frame clip per prompt (5 frames of overlap)."""
    prompts = {str(12 * i): text for i, text in enumerate(PROMPTS)} | {str(12 * 7): last}
    return {
        "model": model,
        "W": size,
        "H": size,
        "fps": 16,
        "steps": steps,
        "clip_frames": 17,
        "clip_overlap": 5,
        "seed": 11,
        "prompts": prompts,
        "max_frames": 12 * 8,
        "output_quality_checks": False,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    load_start = load_average()
    work = Path(tempfile.mkdtemp(prefix="wan-bench-iterate-"))
    options = RenderOptions(models_dir=str(work / "models"), device=args.device, preview_every=0)
    first = config_from_dict(settings(args.steps, args.size, args.model, PROMPTS[-1]))[0]
    edited = config_from_dict(settings(args.steps, args.size, args.model, "a tower room at night, storm"))[0]
    plan, changed = create_plan(first), create_plan(edited)
    assert len(plan.clips) == 8 and [c.prompt_frame for c in plan.clips] == [12 * i for i in range(8)]
    run = work / "run"

    started = time.perf_counter()
    full = render(plan, run, options=options, settings=first.to_dict())
    full_seconds = time.perf_counter() - started

    started = time.perf_counter()
    rows = RunFolder(run).reuse(changed, config_factors(edited, RunFolder(run).latest().auto_picked()))
    listing_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    again = render(changed, run, options=options, mode="revise", settings=edited.to_dict())
    again_seconds = time.perf_counter() - started
    takes = RunFolder(run).takes()
    same_files = all(
        takes[0].model_frame_path(i) == takes[1].model_frame_path(i)
        for clip in plan.clips[:7]
        for i in range(clip.model_start_frame, clip.model_end_frame)
    )

    post = RenderOptions(**(vars(options) | {"interpolation": InterpolationOptions(method="linear")}))
    started = time.perf_counter()
    output_only = render(changed, run, options=post, mode="revise")
    post_seconds = time.perf_counter() - started

    reused = [row.index for row in rows if row.reused]
    append_results(
        [
            f"## Iterating: editing the last of 8 prompts — {datetime.date.today().isoformat()}",
            "",
            f"- machine: {machine(None if (args.device or 'cpu') == 'cpu' else args.device)}; "
            f"load average {load_start} at the start, {load_average()} at the end",
            f"- versions: {versions('torch', 'diffusers')}",
            f"- command: `{command()}`",
            f"- plan: model {args.model}, {args.size}x{args.size}, {args.steps} steps, 8 prompts of one "
            f"17-frame clip each ({plan.model_frames} model frames), every render loading the model",
            f"- full render: {full.clips_rendered} clips in {full_seconds:.1f} s "
            f"(generation {full.metrics['generation_seconds']:.1f} s)",
            f"- last prompt edited, re-rendered from the run: {again.clips_rendered} clip(s) "
            f"(clip {', '.join(str(i) for i in again.rendered)}) in {again_seconds:.1f} s "
            f"= {again_seconds / full_seconds:.0%} of the full render's time "
            f"(generation {again.metrics['generation_seconds']:.1f} s); clips {reused[0]}-{reused[-1]} "
            f"reused from take 1 ({'the same files' if same_files else 'NOT the same files'}), listed "
            f"beforehand in {listing_ms:.0f} ms without torch",
            f"- interpolation changed only: {output_only.clips_rendered} clips rendered, "
            f"{post_seconds:.1f} s (the output stage alone)",
            "",
        ]
    )


if __name__ == "__main__":
    main()
