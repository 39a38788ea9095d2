"""CPU benchmark: planning, the overhead of our render path, and the speed presets on the tiny model.

1. Planning a 10,000-frame, 50-prompt settings file with movement analysis (bench_plan.py).
2. Render-path overhead, in one process, repetitions interleaved, medians: one clip of the tiny
   VACE model (17 frames, 64x64) as (a) a bare WanVACEPipeline call with the prompts already
   embedded and (b) our render(): loading, prompt encoding, the call with progress callbacks and
   latent previews, checks, colour coherence, frames, MP4, quality report and metrics on disk.
3. Speed presets on the tiny model: seconds of the pipeline call with each preset applied against
   the stock call, and the largest difference in the frames (0-1 scale). The weights are random:
   whether first_block, mag or sea skip a step depends on the weights, so their figures here say
   that the hooks run, not what they save on a trained model; TaylorSeer's schedule is fixed.
4. With --compile: regional torch.compile on the CPU (first call, later calls, difference).

Run: python benchmarks/bench_cpu.py [--repeats 5] [--steps 10] [--compile]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_plan import planning_figures
from common import append_results, command, load_average, machine, take_turns, timed, versions

from wan.config import config_from_dict
from wan.models.acceleration import apply_speed, prepare_weights
from wan.models.loading import encode_prompts, load_pipeline, release_text_encoder
from wan.models.resolve import resolve_model
from wan.models.speed import DeviceInfo, SpeedConfig, resolve_speed
from wan.plan import GenerationPlan, create_plan
from wan.render import RenderOptions, render

CPU = torch.device("cpu")
PRESET_RUNS = {  # label: speed settings; every run uses the plan of its preset (fastest: 30 steps)
    "quality (lossless)": SpeedConfig(),
    "fast (first_block 0.05)": SpeedConfig(preset="fast"),
    "fastest (first_block 0.1, 30 steps; fp8 needs CUDA)": SpeedConfig(preset="fastest"),
    "fast + mag (after its calibration run)": SpeedConfig(preset="fast", cache="mag"),
    "fast + taylorseer": SpeedConfig(preset="fast", cache="taylorseer"),
}


def tiny_plan(steps: int | None, preset: str = "quality") -> GenerationPlan:
    """One 17-frame clip of the tiny VACE model at 64x64."""
    settings = {"model": "tiny", "W": 64, "H": 64, "clip_frames": 17, "max_frames": 17, "seed": 7}
    settings |= {"prompts": {"0": "a misty forest at dawn"}, "steps": steps, "speed_preset": preset}
    return create_plan(config_from_dict(settings)[0])


class Stock:
    """The tiny pipeline loaded as our engine loads it, called the way diffusers documents."""

    def __init__(self, models_dir: Path, plan: GenerationPlan) -> None:
        self.location = resolve_model("tiny", models_dir=models_dir)
        self.plan = plan
        pipe = self.load(text_encoder=True)
        clip = plan.clips[0]
        pair = (clip.prompt, clip.negative_prompt)
        self.embeddings = encode_prompts(pipe, [pair], device=CPU)[pair]

    def load(self, *, text_encoder: bool = False) -> Any:
        """A fresh pipeline on the CPU."""
        pipe = load_pipeline(
            self.location, dtype=torch.float32, flow_shift=self.plan.flow_shift, text_encoder=text_encoder
        )
        if not text_encoder:
            release_text_encoder(pipe)
        return pipe

    def call(self, pipe: Any, steps: int | None = None) -> np.ndarray:
        """One pipeline call for the plan's clip; its frames."""
        clip = self.plan.clips[0]
        output = pipe(
            prompt_embeds=self.embeddings[0],
            negative_prompt_embeds=self.embeddings[1],
            height=self.plan.height,
            width=self.plan.width,
            num_frames=clip.num_frames,
            num_inference_steps=steps or self.plan.steps,
            guidance_scale=self.plan.guidance_scale,
            generator=torch.Generator().manual_seed(clip.seed),
            output_type="np",
        )
        return np.asarray(output.frames[0])


def render_overhead(models_dir: Path, steps: int, repeats: int) -> list[str]:
    """Section 2 (see the module doc)."""
    plan = tiny_plan(steps)
    stock = Stock(models_dir, plan)
    pipe = stock.load()
    stock.call(pipe)  # warm-up
    bare, whole, clip_seconds = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(repeats):
            bare += timed(lambda: stock.call(pipe), 1)
            started = time.perf_counter()
            options = RenderOptions(models_dir=str(models_dir), memory="none")
            result = render(plan, Path(folder) / f"run{index}", options=options)
            whole.append(time.perf_counter() - started)
            clip_seconds.append(result.metrics["clips"][0]["seconds"])
    base = statistics.median(bare)
    return [
        f"- task: one clip of the tiny VACE model, 17 frames at 64x64, {steps} steps, guidance "
        f"{plan.guidance_scale:g}; {repeats} interleaved repetitions, medians",
        f"- bare `WanVACEPipeline.__call__` (pipeline loaded, prompts embedded): {base:.3f} s",
        f"- our `render()`, whole (load, encode, generate, checks, frames, MP4, quality, metrics): "
        f"{statistics.median(whole):.3f} s = **{statistics.median(whole) / base:.2f}x** the bare call",
        f"- of which the clip's generation (call with progress callbacks and latent previews): "
        f"{statistics.median(clip_seconds):.3f} s = **{statistics.median(clip_seconds) / base:.2f}x**",
    ]


def speed_presets(models_dir: Path, repeats: int) -> list[str]:
    """Section 3 (see the module doc)."""
    stock = Stock(models_dir, tiny_plan(None))
    stock_pipe = stock.load()
    calls = {"stock diffusers": lambda: stock.call(stock_pipe)}
    steps = {"stock diffusers": stock.plan.steps}
    for label, speed in PRESET_RUNS.items():
        steps[label] = tiny_plan(None, speed.preset).steps
        pipe = stock.load()
        resolved = resolve_speed(speed, DeviceInfo.probe(CPU), offload="none", kind="vace")
        prepare_weights(pipe, resolved, torch.float32)
        applied = apply_speed(pipe, resolved, CPU, tokens=5 * 4 * 4, steps=steps[label])

        def call(pipe: Any = pipe, applied: Any = applied, count: int = steps[label]) -> np.ndarray:
            with applied.running(CPU):
                frames = stock.call(pipe, count)
            applied.after_clip()
            return frames

        calls[label] = call
    seconds, frames = take_turns(calls, repeats)  # the warm-up is MagCache's calibration run
    base = statistics.median(seconds["stock diffusers"])
    lines = [
        f"- task: the same clip, the model's default {stock.plan.steps} steps unless the preset says "
        f"fewer; pipeline call only; {repeats} rounds taking turns, medians",
        "",
        "| speed | steps | seconds | speed-up | max difference from stock |",
        "|---|---|---|---|---|",
    ]
    for label, times in seconds.items():
        median = statistics.median(times)
        difference = float(np.abs(frames[label] - frames["stock diffusers"]).max())
        lines.append(f"| {label} | {steps[label]} | {median:.3f} | {base / median:.2f}x | {difference:.2g} |")
    return lines


def regional_compile(models_dir: Path, steps: int) -> list[str]:
    """Section 4 (see the module doc)."""
    stock = Stock(models_dir, tiny_plan(steps))
    pipe = stock.load()
    reference = stock.call(pipe)
    eager = statistics.median(timed(lambda: stock.call(pipe), 3))
    pipe.transformer.compile_repeated_blocks(fullgraph=True)
    first = timed(lambda: stock.call(pipe), 1)[0]
    later = timed(lambda: stock.call(pipe), 3)
    difference = float(np.abs(stock.call(pipe) - reference).max())
    return [
        f"- regional torch.compile on the CPU, tiny VACE, {steps} steps: eager {eager:.3f} s; first "
        f"compiled call {first:.1f} s; later calls {statistics.median(later):.3f} s (min {min(later):.3f}); "
        f"max difference {difference:.2g}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--plan-repeats", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10, help="steps of the render-overhead clip")
    parser.add_argument("--compile", action="store_true", help="also measure regional torch.compile")
    args = parser.parse_args()
    started_load = load_average()
    with tempfile.TemporaryDirectory() as folder:
        models_dir = Path(folder)
        lines = [
            f"## CPU benchmark: planning, render-path overhead, speed presets — {datetime.date.today()}",
            "",
            f"- machine: {machine()}",
            f"- versions: {versions('numpy', 'numexpr', 'torch', 'diffusers', 'transformers')}, "
            f"{torch.get_num_threads()} torch threads",
            f"- command: `{command()}`",
            "",
            "Planning:",
            "",
            *planning_figures(args.plan_repeats),
            "",
            "Render-path overhead over a bare diffusers call:",
            "",
            *render_overhead(models_dir, args.steps, args.repeats),
            "",
            "Speed presets on the tiny model (random weights; see benchmarks/bench_cpu.py):",
            "",
            *speed_presets(models_dir, args.repeats),
            "",
        ]
        if args.compile:
            lines += [*regional_compile(models_dir, args.steps), ""]
    append_results(
        [
            *lines,
            f"- 1-minute load average at the start and the end: {started_load}, {load_average()} "
            f"({os.cpu_count()} CPUs; above about 1, other processes shared the CPUs and timings are noisy)",
            "- GPU: not measured (this benchmark runs on the CPU)",
            "",
        ]
    )


if __name__ == "__main__":
    main()
