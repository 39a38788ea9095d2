"""`python -m wan bench`: one clip through every stage of a render, on this machine, with the
render's own instruments (wan.render.stages), and what follows from it.

What runs: the pipeline of the settings' model with random weights (wan.bench.build) at the
settings' size on CUDA, or its tiny stand-in on a CPU (random weights at the real sizes would take
hours there: a T2V-1.3B step at 81 frames of 832x480 is 5.7e14 FLOP with guidance); the same
sequence as a render (text encoding, the speed preset's weight changes, the memory preset, the
rest of the speed preset, guidance batching), then one pipeline call of `steps` steps, the clip's
frames to a run folder and the output stage (interpolation to the output fps, quality checks,
the MP4). An out-of-memory error moves to the next memory preset, as a render does.

What it reports: seconds and peak memory per stage; each step's seconds; the steady step time
(the median after the first step, which compiles and autotunes) extrapolated to the settings'
steps when fewer were run (said so); seconds per output frame; the transformer's FLOP per step
(wan.models.flops, both guidance passes) over the steady step time against a matmul peak measured
here (MFU); recommended memory and speed presets (wan.bench.recommend).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import MemoryPreset, WanConfig
from ..models.acceleration import apply_speed, prepare_weights
from ..models.flops import transformer_flops, video_tokens
from ..models.guidance import GuidanceBatcher, decide_batching
from ..models.loading import apply_memory, encode_prompts, free_memory, release_text_encoder
from ..models.memory import resolve_memory
from ..models.speed import DeviceInfo, resolve_speed
from ..plan import GenerationPlan, create_plan
from ..render.engine import _is_out_of_memory  # the render's own test, so both fall back alike
from ..render.options import config_factors
from ..render.run_folder import RunFolder
from ..render.stages import PipelineCallTimer, StageRecorder, steady_step_seconds
from .build import build_pipeline, is_real_size, parameter_count
from .recommend import recommend
from .timing import matmul_peak

CPU_SIZE = (64, 64, 17)  # width, height, frames of a CPU run unless asked otherwise
GPU_MATMUL = 8192
CPU_MATMUL = 512


@dataclass(frozen=True)
class ProfileSetup:
    """What one profile runs."""

    config: WanConfig  # the settings with the profile's size: one clip
    plan: GenerationPlan
    asked_model: str
    steps: int  # measured
    device: Any
    dtype: Any
    notes: tuple[str, ...] = ()

    @property
    def clip(self) -> Any:
        """The one clip."""
        return self.plan.clips[0]


@dataclass
class _Run:
    """One attempt's measurements."""

    memory: MemoryPreset
    stages: StageRecorder
    step_seconds: list[float] = field(default_factory=list)
    speed: dict[str, Any] = field(default_factory=dict)
    batching: dict[str, Any] = field(default_factory=dict)
    output_notes: list[str] = field(default_factory=list)
    flop_per_step: float | None = None


def _conditioning(setup: ProfileSetup) -> dict[str, Any]:
    from PIL import Image

    if setup.config.model_spec.kind != "i2v":
        return {}  # VACE's first clip is text only: the pipeline makes its grey control video
    grey = np.full((setup.plan.height, setup.plan.width, 3), 128, np.uint8)
    return {"image": Image.fromarray(grey)}


def _pipeline(setup: ProfileSetup, memory: MemoryPreset) -> Any:
    """Random weights of the model, on the device unless the preset offloads them."""
    model = setup.config.model
    real = is_real_size(model)
    place = setup.device if real else "cpu"  # real sizes build fast on the GPU only
    pipe = build_pipeline(model, device=place, dtype=setup.dtype, flow_shift=setup.plan.flow_shift)
    if memory.offload != "none" or not real:
        pipe.to("cpu")
    return pipe


def _flop_per_step(transformer: Any, setup: ProfileSetup) -> float | None:
    try:
        config = dict(transformer.config)
        forward = transformer_flops(config, setup.clip.num_frames, setup.plan.height, setup.plan.width)
    except (KeyError, TypeError):
        return None
    return forward.total * (2 if setup.plan.guidance_scale > 1 else 1)


def _run_once(setup: ProfileSetup, memory: MemoryPreset, work_dir: Path) -> _Run:
    import torch

    config, plan, clip, device = setup.config, setup.plan, setup.clip, setup.device
    run = _Run(memory, StageRecorder(device))
    stages = run.stages
    stages.start("load")
    pipe = _pipeline(setup, memory)
    stages.start("text_encoding")
    pair = (clip.prompt, clip.negative_prompt)
    positive, negative = encode_prompts(pipe, [pair], device=device, on_cpu=memory.encode_on_cpu)[pair]
    stages.start("load")
    release_text_encoder(pipe)
    kind = config.model_spec.kind
    resolved = resolve_speed(config.speed, DeviceInfo.probe(device), offload=memory.offload, kind=kind)
    prepare_weights(pipe, resolved, setup.dtype)
    apply_memory(pipe, memory, device)
    tokens = video_tokens(pipe.transformer.config, clip.num_frames, plan.height, plan.width)
    applied = apply_speed(pipe, resolved, device, tokens=tokens, steps=setup.steps)
    decision = decide_batching(
        memory, config.memory.batch_guidance, cache=resolved.cache, guidance=plan.guidance_scale
    )
    batcher = GuidanceBatcher(pipe) if decision.enabled else None
    run.speed, run.batching = applied.record(), decision.to_dict()
    run.flop_per_step = _flop_per_step(pipe.transformer, setup)
    stages.stop()

    clip_stages = StageRecorder(device)
    timer = PipelineCallTimer(
        clip_stages, [pipe.transformer, getattr(pipe, "transformer_2", None)], setup.steps
    )

    def on_step(_pipe: Any, step: int, _t: Any, _tensors: dict[str, Any]) -> dict[str, Any]:
        timer.step_done(step)
        return {}

    execution = pipe._execution_device
    batched = batcher.armed(negative) if batcher else contextlib.nullcontext()
    with applied.running(device), batched, timer:
        output = pipe(
            prompt_embeds=positive.to(execution),
            negative_prompt_embeds=negative.to(execution),
            height=plan.height,
            width=plan.width,
            num_frames=clip.num_frames,
            num_inference_steps=setup.steps,
            guidance_scale=plan.guidance_scale,
            generator=torch.Generator(device="cpu").manual_seed(clip.seed),
            output_type="np",
            callback_on_step_end=on_step,
            **_conditioning(setup),
        )
    stages.absorb(clip_stages)
    run.step_seconds = list(timer.step_seconds)
    frames = np.asarray(output.frames[0], dtype=np.float32)
    del output, pipe, applied, batcher
    free_memory(reset_peak=False)

    stages.start("saving_clips")
    folder = RunFolder(work_dir).start(plan, None, mode="new", factors=config_factors(config))
    pixels = np.rint(np.clip(frames, 0.0, 1.0) * 255.0).astype(np.uint8)
    folder.write_clip(clip, pixels[: clip.new_frames], {"index": clip.index, "seconds": 0.0})
    stages.stop()
    clock = stages.begin_stream("encoding")
    try:
        from ..render.output import (
            write_output,
        )  # OpenCV and imageio-ffmpeg: a bare GPU machine may lack them

        write_output(
            plan,
            folder,
            interpolation=config.interpolation,
            save_frames=config.output.save_frames,
            write_video=True,
            quality_checks=config.output.quality_checks,
            crf=config.output.crf,
            models_dir=None,
            device=str(device),
            emit=lambda message: print(message, file=sys.stderr),
            clock=clock,
        )
    except ImportError as error:  # OpenCV or imageio-ffmpeg missing on a bare GPU machine
        run.output_notes.append(f"output stage not measured: {error}")
    stages.end_stream(clock)
    return run


def run_profile(
    setup: ProfileSetup, *, work_dir: Path | None = None, peak_flops: float | None = None
) -> dict[str, Any]:
    """Measure (see the module doc; `peak_flops`: a matmul peak measured already); JSON-ready."""
    import torch

    if peak_flops is None:
        cuda = torch.device(setup.device).type == "cuda"
        peak_flops = matmul_peak(setup.device, setup.dtype, size=GPU_MATMUL if cuda else CPU_MATMUL)
    memory = resolve_memory(setup.config.memory.preset)
    out_of_memory: list[str] = []
    while True:
        free_memory()
        try:
            with tempfile.TemporaryDirectory() as scratch:
                run = _run_once(setup, memory, Path(work_dir or scratch) / "run")
            break
        except Exception as error:
            if not _is_out_of_memory(error):
                raise
            out_of_memory.append(memory.name)
            stronger = memory.more_aggressive()
            if stronger is None:
                raise
            memory = stronger
    return summarize(setup, run, peak_flops=peak_flops, out_of_memory=out_of_memory)


def _extrapolated(step_seconds: list[float], target: int) -> float:
    steady = steady_step_seconds(step_seconds) or 0.0
    if len(step_seconds) >= target:
        return float(sum(step_seconds))
    return step_seconds[0] + steady * (target - 1) if len(step_seconds) > 1 else steady * target


def summarize(
    setup: ProfileSetup, run: _Run, *, peak_flops: float, out_of_memory: list[str]
) -> dict[str, Any]:
    """The profile's figures from one run (see the module doc)."""
    import torch

    stages = run.stages.to_dict()
    seconds = {name: record["seconds"] for name, record in stages.items()}
    measured_denoising = float(sum(run.step_seconds))
    target = setup.plan.steps
    denoising = _extrapolated(run.step_seconds, target) if run.step_seconds else 0.0
    steady = steady_step_seconds(run.step_seconds)
    after_load = sum(v for k, v in seconds.items() if k != "load")
    stepping = seconds.get("denoising", 0.0) - measured_denoising  # callbacks between steps
    whole_target = (
        after_load - seconds.get("denoising", 0.0) + denoising + stepping * target / max(setup.steps, 1)
    )
    output_frames = setup.plan.output_frames
    cuda = torch.device(setup.device).type == "cuda"
    info = DeviceInfo.probe(setup.device)
    vram = torch.cuda.get_device_properties(setup.device).total_memory if cuda else None
    achieved = run.flop_per_step / steady if run.flop_per_step and steady else None
    notes = list(setup.notes) + run.output_notes
    if setup.steps < target:
        notes.append(
            f"{setup.steps} of {target} steps were run: the clip's denoising ({denoising:.3g} s) is the "
            f"first step plus the steady step time times the other {target - 1} (extrapolated)"
        )
    if out_of_memory:
        notes.append(f"out of memory with {', '.join(out_of_memory)}: measured with {run.memory.name}")
    if not is_real_size(setup.config.model):
        notes.append(
            "tiny model: its MFU and memory say nothing about a real model (the CPU profile checks the path)"
        )
    result = {
        "model": setup.config.model,
        "asked_model": setup.asked_model,
        "real_size": is_real_size(setup.config.model),
        "device": str(setup.device),
        "device_name": info.name,
        "dtype": str(setup.dtype).removeprefix("torch."),
        "size": {
            "width": setup.plan.width,
            "height": setup.plan.height,
            "frames": setup.clip.num_frames,
            "output_frames": output_frames,
            "output_fps": setup.plan.output_fps,
        },
        "steps": {"measured": setup.steps, "target": target, "extrapolated": setup.steps < target},
        "guidance_scale": setup.plan.guidance_scale,
        "memory_preset": run.memory.name,
        "out_of_memory": out_of_memory,
        "speed": run.speed,
        "guidance_batching": run.batching,
        "stages": stages,
        "stage_memory": run.stages.memory.kind,
        "step_seconds": [round(s, 5) for s in run.step_seconds],
        "seconds_per_step": round(steady, 5) if steady is not None else None,
        "denoising_seconds": {"measured": round(measured_denoising, 4), "target_steps": round(denoising, 4)},
        "seconds_per_output_frame": {
            "measured": round(after_load / output_frames, 4),
            "target_steps": round(whole_target / output_frames, 4),
        },
        "flop_per_step": run.flop_per_step,
        "matmul_peak_flops": peak_flops,
        "achieved_flops": achieved,
        "mfu": achieved / peak_flops if achieved else None,
        "vram_total_bytes": vram,
        "transformer_parameters": parameter_count(setup.config.model),
        "notes": notes,
    }
    result["recommendations"] = recommend(result, info)
    return result


def profile_config(
    config: WanConfig, *, cuda: bool, size: tuple[int, int] | None, frames: int | None
) -> tuple[WanConfig, list[str]]:
    """The settings of a one-clip profile: on a CPU the model's tiny stand-in at 64x64x17 unless a
    size is asked; the clip as long as `frames` (default: the settings' clip_frames)."""
    from ..config import config_from_dict
    from ..timebase import Timebase
    from .build import tiny_stand_in

    notes: list[str] = []
    values = config.to_dict()
    model = config.model
    if not cuda and is_real_size(model):
        model = tiny_stand_in(model)
        notes.append(
            f"no CUDA GPU: the tiny {config.model_spec.kind} model stands in for {config.model} (random "
            "weights at the real sizes would take hours on a CPU)"
        )
    width, height = size or ((config.width, config.height) if cuda else CPU_SIZE[:2])
    count = frames or (config.clip_frames if cuda else CPU_SIZE[2])
    timebase = Timebase.of(config.fps, 16)
    overrides = {
        "model": model,
        "i2v_model": None,
        "W": width,
        "H": height,
        "clip_frames": count,
        "clip_overlap": min(config.clip_overlap, max(count - 4, 0)),  # one clip: no overlap is used
        "max_frames": timebase.output_frames_within(count),
        "prompts": {"0": config.prompts[0][1]},  # one prompt: a keyframe would cut the clip
    }
    profiled, _ = config_from_dict(values | overrides)
    return profiled, notes


def grey_image() -> Path:
    """A grey PNG in a new temporary folder: the start image of an I2V profile (timing does not
    depend on the picture)."""
    from PIL import Image

    path = Path(tempfile.mkdtemp(prefix="wan-bench-")) / "grey.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(path)
    return path


def setup_profile(
    config: WanConfig, *, device: Any, steps: int | None, asked_model: str, notes: list[str]
) -> ProfileSetup:
    """The setup of a profile of the (already one-clip) settings on `device`."""
    from ..models.loading import default_dtype

    plan = create_plan(config)
    measured = min(steps or 4, plan.steps)
    return ProfileSetup(config, plan, asked_model, measured, device, default_dtype(device), tuple(notes))
