"""CPU benchmark: validate, analyse the camera movement of, and plan a 10,000-frame, 50-prompt
Deforum settings file (every camera schedule keyframed, Camera Shakify on).

Run: python benchmarks/bench_plan.py [--repeats 20]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

from common import append_results, command, machine, ms, versions

from wan.config import config_from_dict
from wan.plan import create_plan, movement_by_prompt
from wan.schedules import clear_cache


def settings_file() -> dict:
    """10,000 frames at 24 fps, 50 prompts, every camera schedule with keyframes and expressions."""
    prompts = {
        str(i * 200): f"scene {i}: a (castle:1.2) on a hill, `t/100` banners --neg fog" for i in range(50)
    }
    return {
        "prompts": prompts,
        "max_frames": 10_000,
        "fps": 24,
        "W": 832,
        "H": 480,
        "seed": 1234,
        "animation_mode": "3D",
        "translation_x": "0:(0), 1000:(2*sin(t/40)), 4000:(0), 6000:(-1.5), 9000:(0)",
        "translation_y": "0:(0.5*cos(t/25))",
        "translation_z": "0:(1.75), 2500:(0.5), 5000:(where(t%400<200, 1, -1)), 7000:(2)",
        "rotation_3d_x": "0:(0), 300:(0.2), 600:(0)",
        "rotation_3d_y": "0:(0), 2000:(0.6*sin(2*3.14*t/120)), 3000:(0)",
        "rotation_3d_z": "0:(0), max_f/2:(0.3), max_f:(0)",
        "zoom": "0:(1.0025+0.002*sin(1.25*3.14*t/30))",
        "angle": "0:(0)",
        "shake_name": "INVESTIGATION",
        "shake_intensity": 1.5,
        "sampler": "Euler a",
        "cfg_scale_schedule": "0:(7)",
    }


def planning_figures(repeats: int) -> list[str]:
    """Validate, plan and analyse the settings file `repeats` times (cold cache), then time the
    CLI five times; the result lines."""
    data = settings_file()
    validate, segments, plan_times, total = [], [], [], []
    for _ in range(repeats):
        clear_cache()  # cold: every schedule evaluated again
        t0 = time.perf_counter()
        config, _ = config_from_dict(data)
        t1 = time.perf_counter()
        plan = create_plan(config)
        t2 = time.perf_counter()
        analysed = movement_by_prompt(config)
        t3 = time.perf_counter()
        validate.append(t1 - t0)
        plan_times.append(t2 - t1)
        segments.append(t3 - t2)
        total.append(t2 - t0)

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        json.dump(data, handle)
    cli = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "wan", "plan", handle.name, "--json"], check=True, capture_output=True
        )
        cli.append(time.perf_counter() - t0)
    os.unlink(handle.name)
    return [
        f"- result: {len(plan.clips)} clips, {plan.model_frames} model frames",
        f"- validate settings (parse + evaluate every schedule, cold cache): {ms(validate)}",
        f"- create the plan (clips, seeds, prompts, movement analysis of every clip): {ms(plan_times)}",
        f"- movement analysis of the {len(analysed)} prompt segments alone: {ms(segments)}",
        f"- validate + plan, in process: {ms(total)}",
        f"- `python -m wan plan FILE --json`, whole process with interpreter start (5 runs): {ms(cli)}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    append_results(
        [
            f"## Planning a 10,000-frame, 50-prompt settings file, with movement analysis — "
            f"{datetime.date.today().isoformat()}",
            "",
            f"- machine: {machine()}",
            f"- versions: {versions('numpy', 'numexpr')}",
            f"- command: `{command()}`",
            *planning_figures(args.repeats),
            "",
        ]
    )


if __name__ == "__main__":
    main()
