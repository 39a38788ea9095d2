"""Turning a GenerationPlan into a video, clip by clip.

render() reads top to bottom like a diffusers pipeline call:
1. check the run folder: a new run, or a resume of the very same plan;
2. for each clip not on disk yet:
   a. the pipeline of the clip's model, loaded on first use: prompts encoded once, the text
      encoder released, the LoRAs (fused, or adapters weighted per clip), a fixed-step scheduler
      for a step-distilled preset, fp8 storage, the memory preset, then the rest of the speed
      preset (attention kernel, step cache, torch.compile);
   b. its conditioning: text only, the init image, or the tail of the video so far;
   c. denoising with progress, previews, pause and cancel; an out-of-memory error frees memory,
      moves to the next memory preset and retries the clip;
   d. checks (NaN, black frames) and colour coherence with the first clip;
   e. its new frames, then its metadata, to disk;
   Clips are rendered at the plan's render size; the output stage resizes to the output size.
3. the output frames at the output fps (interpolated, or the nearest model frames) and at the
   output size, the MP4 and the quality report, in one streaming pass (output.py);
4. metrics.json, with the quality report under "quality" and where the time and memory went
   under "stages" (stages.py; each clip's own under its "stages").

A resumed run with no clip left to generate keeps its output as it is when metrics.json records
the same output options and the files they made are there; otherwise only steps 3 and 4 run.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import model_spec
from ..config import (
    GateOptions,
    InterpolationOptions,
    MemoryPreset,
    QualityOptions,
    SpeedOptions,
    UpscaleOptions,
    WanConfig,
)
from ..errors import WanError
from ..models.acceleration import AppliedSpeed, apply_speed, prepare_weights
from ..models.flops import video_tokens
from ..models.guidance import BatchingDecision, GuidanceBatcher, decide_batching
from ..models.loading import (
    apply_memory,
    default_device,
    default_dtype,
    encode_prompts,
    free_memory,
    image_pipeline,
    load_pipeline,
    release_text_encoder,
)
from ..models.lora import AppliedLoras, apply_loras, check_experts, has_two_experts
from ..models.memory import ClipSize, place_models
from ..models.quantization import Weights
from ..models.resolve import ModelLocation, resolve_model
from ..models.speed import DeviceInfo, resolve_speed
from ..parallel import check_parallel_speed, current_group
from ..plan import ClipPlan, GenerationPlan
from ..post.color import ColorStats, color_stats, match_colors
from ..post.quality.checker import BLACK_LEVEL
from .conditioning import as_image, load_init_image, vace_inputs
from .events import ProgressCallback, ProgressEvent, RenderControl
from .gating import MadeFrames, render_checked, summarize, write_quality_plot
from .output import write_output
from .previews import LatentPreviewer
from .result import VideoResult
from .run_folder import RunFolder
from .stages import PipelineCallTimer, StageRecorder


class RenderError(WanError, RuntimeError):
    """A clip that cannot be generated (NaN output, out of memory on every preset, ...)."""


@dataclass(frozen=True)
class RenderOptions:
    """How to render: device, memory and speed presets, where models are, what to write.
    `interpolation` None (or disabled) shows the nearest model frame at each output time."""

    device: str | None = None
    memory: str = "auto"
    speed: SpeedOptions = field(default_factory=SpeedOptions)
    models_dir: str | None = None
    allow_download: bool = False
    preview_every: int = 5
    color_coherence: bool = True
    save_frames: bool = True
    write_video: bool = True
    crf: int = 17
    max_attempts: int = 4
    interpolation: InterpolationOptions | None = None
    quality_checks: bool = True
    weights: str = "auto"
    weights_files: tuple[str, ...] = ()
    batch_guidance: str = "auto"
    quality: QualityOptions | None = None  # prompt adherence (off when None)
    gate: GateOptions | None = None  # the quality gate (off when None)
    upscale: UpscaleOptions | None = None  # upscaling the output (off when None)

    @classmethod
    def of(cls, config: WanConfig, **host: Any) -> RenderOptions:
        """The options a config asks for; `host` adds where models are, the device and what to
        write (device, models_dir, allow_download, save_frames, write_video, ...)."""
        values = {
            "memory": config.memory.preset,
            "speed": config.speed,
            "color_coherence": config.output.color_coherence,
            "save_frames": config.output.save_frames,
            "crf": config.output.crf,
            "interpolation": config.interpolation,
            "quality_checks": config.output.quality_checks,
            "weights": config.weights.format,
            "weights_files": config.weights.files,
            "batch_guidance": config.memory.batch_guidance,
            "quality": config.quality,
            "gate": config.gate,
            "upscale": config.upscale,
        }
        return cls(**(values | host))

    def output_record(self) -> dict[str, Any]:
        """The options that decide the output stage, as metrics.json records them ("output")."""
        interpolation = self.interpolation
        record = {
            "interpolation": interpolation.values() if interpolation and interpolation.enabled else None,
            "crf": self.crf,
            "save_frames": self.save_frames,
            "write_video": self.write_video,
            "quality_checks": self.quality_checks,
        }
        return json.loads(json.dumps(record))  # as it reads back from metrics.json


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(error, oom) or (isinstance(error, RuntimeError) and "out of memory" in str(error))


def _latent_frames(num_frames: int) -> int:
    return (num_frames - 1) // 4 + 1


@dataclass
class _Loaded:
    model: str
    memory: MemoryPreset
    pipe: Any
    previewer: LatentPreviewer | None
    speed: AppliedSpeed
    loras: AppliedLoras
    batching: BatchingDecision
    batcher: GuidanceBatcher | None
    image_pipe: Any = None  # TI2V: the same components as an image-to-video pipeline


@dataclass
class _Session:
    plan: GenerationPlan
    folder: RunFolder
    options: RenderOptions
    callback: ProgressCallback
    control: RenderControl
    device: Any
    dtype: Any
    memory: MemoryPreset
    stages: StageRecorder
    weights: Weights = field(default_factory=Weights)
    locations: dict[str, ModelLocation] = field(default_factory=dict)
    embeddings: dict[str, dict[tuple[str, str], tuple[Any, Any]]] = field(default_factory=dict)
    loaded: _Loaded | None = None
    device_info: DeviceInfo | None = None
    reference: ColorStats | None = None
    seconds_per_step: float | None = None
    frames_done: int = 0
    clip_now: int = 0  # the clip being (or last) worked on: events without a clip keep it
    clip_stages: StageRecorder | None = None  # the stages of the clip being generated

    # -- events ---------------------------------------------------------------------------------

    def emit(self, kind: str, clip: ClipPlan | None = None, **values: Any) -> None:
        """Report progress; events never go back (a clip's index, its step, frames done)."""
        if clip is not None:
            self.clip_now = clip.index
        if kind in ("writing", "done"):  # every clip is done: the output stage comes last
            self.clip_now = len(self.plan.clips) - 1
            values.setdefault("step", self.plan.steps)
        event = ProgressEvent(
            kind=kind,  # type: ignore[arg-type]
            clip=self.clip_now,
            clips=len(self.plan.clips),
            steps=self.plan.steps,
            frames_total=self.plan.model_frames,
            frames_done=self.frames_done,
            **values,
        )
        self.callback(event)

    def eta(self, clip: ClipPlan, step: int) -> float | None:
        """Seconds left: this clip's remaining steps, then the later clips scaled by their size."""
        if self.seconds_per_step is None:
            return None
        per_frame = self.seconds_per_step / _latent_frames(clip.num_frames)
        later = sum(_latent_frames(c.num_frames) for c in self.plan.clips[clip.index + 1 :])
        remaining = (self.plan.steps - step) * self.seconds_per_step + later * self.plan.steps * per_frame
        return remaining

    # -- models -----------------------------------------------------------------------------------

    def pipeline(self, clip: ClipPlan) -> _Loaded:
        """The loaded pipeline for the clip's model (loading it if needed)."""
        if self.loaded is not None and self.loaded.model == clip.model:
            return self.loaded
        self.unload()
        return self.load(clip.model, self.memory)

    def load(self, model: str, memory: MemoryPreset) -> _Loaded:
        self.stages.start("load")
        if model not in self.locations:
            self.locations[model] = resolve_model(
                model,
                models_dir=Path(self.options.models_dir) if self.options.models_dir else None,
                allow_download=self.options.allow_download,
            )
        location = self.locations[model]
        self.device_info = self.device_info or DeviceInfo.probe(self.device)
        spec = location.spec
        speed = resolve_speed(
            self.options.speed,
            self.device_info,
            offload=memory.offload,
            kind=spec.kind,
            experts=spec.experts,
            weights=self.weights.format,
        )
        self.emit(
            "loading",
            message=f"loading {model} from {location.path} ({memory.name} memory preset, "
            f"{self.weights.format} weights, {speed.preset} speed preset)",
        )
        encoded = model in self.embeddings
        pipe = load_pipeline(
            location,
            dtype=self.dtype,
            flow_shift=self.plan.flow_shift,
            text_encoder=not encoded,
            weights=self.weights,
        )
        if not encoded:
            pairs = [(c.prompt, c.negative_prompt) for c in self.plan.clips if c.model == model]
            self.emit("encoding", message=f"encoding {len(set(pairs))} prompt(s)")
            self.stages.start("text_encoding")
            self.embeddings[model] = encode_prompts(
                pipe, pairs, device=self.device, on_cpu=memory.encode_on_cpu
            )
            self.stages.start("load")
        release_text_encoder(pipe)
        previewer = None
        if self.options.preview_every > 0:
            previewer = LatentPreviewer.fit(pipe.vae, pipe.vae_scale_factor_spatial)
        clips = [c for c in self.plan.clips if c.model == model]
        loras = apply_loras(pipe, clips, model=model)
        if self.plan.timesteps:
            from ..models.schedulers import use_fixed_steps

            use_fixed_steps(pipe, self.plan.timesteps, self.plan.flow_shift)
        prepare_weights(pipe, speed, self.dtype, self.weights)
        apply_memory(pipe, memory, self.device)
        height, width = self.plan.render_height, self.plan.render_width
        tokens = max(video_tokens(pipe.transformer.config, c.num_frames, height, width) for c in clips)
        applied = apply_speed(pipe, speed, self.device, tokens=tokens, steps=self.plan.steps)
        batching = decide_batching(
            memory, self.options.batch_guidance, cache=speed.cache, guidance=self.plan.guidance_scale
        )
        batcher = GuidanceBatcher(pipe) if batching.enabled else None
        group = current_group()
        if group is not None:  # one render over several processes (wan.parallel)
            check_parallel_speed(speed.cache)
            batcher = group.prepare(
                pipe, tokens=tokens, guidance=self.plan.guidance_scale > 1, batcher=batcher
            )
        image_pipe = image_pipeline(pipe) if spec.kind == "ti2v" else None
        self.loaded = _Loaded(model, memory, pipe, previewer, applied, loras, batching, batcher, image_pipe)
        self.stages.stop()
        return self.loaded

    def unload(self) -> None:
        if self.loaded is not None:
            self.loaded = None
            free_memory()

    # -- one clip ---------------------------------------------------------------------------------

    def conditioning(self, clip: ClipPlan) -> dict[str, Any]:
        """The pipeline arguments that condition the clip."""
        kind = model_spec(clip.model).kind
        if clip.conditioning == "init_image":
            kept = [load_init_image(self.plan.init_image, self.plan.render_width, self.plan.render_height)]
        elif clip.conditioning == "previous_clip":
            start = clip.model_start_frame
            kept = list(self.folder.read_model_frames(range(start - clip.overlap_frames, start)))
        else:
            kept = []
        if kind == "vace":
            video, mask = vace_inputs(kept, clip.num_frames)
            return {"video": video, "mask": mask} if video is not None else {}
        if kind == "i2v" or (kind == "ti2v" and kept):
            return {"image": as_image(kept[-1])}
        return {}

    def denoise(self, clip: ClipPlan, loaded: _Loaded, conditioning: dict[str, Any]) -> np.ndarray:
        """Run the pipeline for one clip; returns its frames as float RGB in [0, 1]."""
        import torch

        from ..models.schedulers import seed_scheduler_noise

        pipe = loaded.image_pipe if "image" in conditioning and loaded.image_pipe is not None else loaded.pipe
        positive, negative = self.embeddings[clip.model][(clip.prompt, clip.negative_prompt)]
        if self.plan.guidance_scale_2 is not None and pipe.config.boundary_ratio is not None:
            conditioning = {**conditioning, "guidance_scale_2": self.plan.guidance_scale_2}
        device = pipe._execution_device
        state: dict[str, Any] = {"started": time.perf_counter(), "previous": None, "previous_sigma": None}
        transformers = [pipe.transformer, getattr(pipe, "transformer_2", None)]
        timer = PipelineCallTimer(
            self.clip_stages or StageRecorder(self.device), transformers, self.plan.steps
        )

        def on_step(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            timer.step_done(step)
            self.control.checkpoint()
            now = time.perf_counter()
            self.seconds_per_step = (now - state["started"]) / (step + 1)
            self.emit(
                "step",
                clip,
                step=step + 1,
                seconds_per_step=self.seconds_per_step,
                eta_seconds=self.eta(clip, step + 1),
            )
            every = self.options.preview_every
            latents = tensors.get("latents")
            sigmas = getattr(pipe.scheduler, "sigmas", None)
            sigma = float(sigmas[step + 1]) if sigmas is not None and step + 1 < len(sigmas) else 0.0
            if loaded.previewer is not None and latents is not None and every and (step + 1) % every == 0:
                image = loaded.previewer.preview(latents, state["previous"], sigma, state["previous_sigma"])
                self.folder.write_preview("latest.png", image)
                self.emit("preview", clip, step=step + 1, preview=image)
            if latents is not None:
                state["previous"], state["previous_sigma"] = latents.detach().clone(), sigma
            return {}

        generator = torch.Generator(device="cpu").manual_seed(clip.seed)
        loaded.loras.before_clip(clip)
        seed_scheduler_noise(pipe, clip.seed)
        batched = loaded.batcher.armed(negative) if loaded.batcher else contextlib.nullcontext()
        with loaded.speed.running(self.device), batched, timer:
            output = pipe(
                prompt_embeds=positive.to(device),
                negative_prompt_embeds=negative.to(device),
                height=self.plan.render_height,
                width=self.plan.render_width,
                num_frames=clip.num_frames,
                num_inference_steps=self.plan.steps,
                guidance_scale=self.plan.guidance_scale,
                generator=generator,
                output_type="np",
                callback_on_step_end=on_step,
                callback_on_step_end_tensor_inputs=["latents"],
                **conditioning,
            )
        return np.asarray(output.frames[0], dtype=np.float32)

    def generate(self, clip: ClipPlan) -> dict[str, Any]:
        """Generate, check, correct and store one clip (through the quality gate, gating.py);
        returns its metadata."""
        self.emit("clip_start", clip, message=clip.prompt)
        self.clip_stages = StageRecorder(self.device)
        made, checks = render_checked(self, clip)
        self.stages.start("saving_clips")
        metadata = {
            "index": clip.index,
            "model": clip.model,
            "memory_preset": made.loaded.memory.name,
            "weights": self.weights.format,
            "speed": made.speed,
            "loras": made.loaded.loras.record(clip),
            "attempts": made.attempts,
            "seconds": round(made.seconds, 4),
            "seconds_per_frame": round(made.seconds / clip.num_frames, 4),
            "peak_memory_bytes": self.clip_stages.peak(),
            "black_frames": made.black,
            "warnings": [f"{made.black} black frame(s)"] if made.black else [],
            "guidance_batching": made.loaded.batching.to_dict(),
            "stages": self.clip_stages.to_dict(),
            **checks,
        }
        new = made.new
        if self.options.color_coherence and self.reference is None:
            self.reference = color_stats(new)
        self.folder.write_clip(clip, new, metadata)
        self.stages.stop()
        self.stages.absorb(self.clip_stages)
        self.frames_done += clip.new_frames
        last = self.folder.write_preview(f"clip_{clip.index:04d}.png", new[-1])
        self.emit("clip_done", clip, message=str(last), preview=new[-1])
        return metadata

    def make_frames(self, clip: ClipPlan) -> MadeFrames:
        """One render of a clip (with its seed): its new frames, colour-corrected, as uint8 RGB."""
        frames, loaded, attempts, seconds = self.denoise_with_retries(clip)
        speed = loaded.speed.record()
        loaded.speed.after_clip()
        if np.isnan(frames).any():
            raise RenderError(
                f"clip {clip.index} produced NaN values; this usually means the model ran in float16 and "
                "overflowed, or its weights are damaged"
            )
        pixels = np.rint(np.clip(frames, 0.0, 1.0) * 255.0).astype(np.uint8)
        new = pixels[clip.overlap_frames : clip.overlap_frames + clip.new_frames]
        black = int(np.count_nonzero(frames.reshape(len(frames), -1).mean(axis=1) < BLACK_LEVEL))
        new = self.coherent_colors(new)
        return MadeFrames(clip.seed, new, black, loaded, attempts, seconds, speed)

    def denoise_with_retries(self, clip: ClipPlan) -> tuple[np.ndarray, _Loaded, int, float]:
        """(frames, the pipeline that made them, attempts, seconds): an out-of-memory error
        moves to the next memory preset and tries again, up to `max_attempts`."""
        conditioning = self.conditioning(clip)
        attempts = 0
        while True:
            attempts += 1
            loaded = self.pipeline(clip)
            started = time.perf_counter()
            try:
                frames = self.denoise(clip, loaded, conditioning)
                return frames, loaded, attempts, time.perf_counter() - started
            except Exception as error:
                if not _is_out_of_memory(error):
                    raise
                stronger = loaded.memory.more_aggressive()
                if stronger is None or attempts >= self.options.max_attempts:
                    raise RenderError(
                        f"clip {clip.index} ran out of memory with the {loaded.memory.name} preset, the last "
                        "one; lower the resolution or clip_frames"
                    ) from error
                self.emit(
                    "retry",
                    clip,
                    message=f"out of memory with {loaded.memory.name}; retrying with {stronger.name}",
                )
                self.unload()
                self.memory = stronger
                self.load(clip.model, stronger)

    def coherent_colors(self, frames: np.ndarray) -> np.ndarray:
        """The clip's new frames with the first clip's colour statistics (when asked for; the
        first clip kept sets them, see generate)."""
        if not self.options.color_coherence or self.reference is None:
            return frames
        return match_colors(frames, self.reference)


def torch_device(name: str | None) -> Any:
    """The torch device to render on: `name`, or CUDA when available, else the CPU. A device this
    machine does not have is a RenderError that says so (before anything is written)."""
    import torch

    if not name:
        return default_device()
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RenderError(f"--device: '{name}' is not a torch device (cpu, cuda, cuda:1, mps)") from None
    present = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available(),
    }.get(device.type, False)
    if device.type == "cuda" and present and device.index is not None:
        present = device.index < torch.cuda.device_count()
    if not present:
        raise RenderError(
            f"device '{name}' is not available on this machine; use cpu, or leave the device unset"
        )
    return device


def _current_output(plan: GenerationPlan, folder: RunFolder, options: RenderOptions) -> dict[str, Any] | None:
    """The stored metrics when the run's output was made with these output options and is all
    there (the video, every output frame), else None (the output stage must run again)."""
    try:
        metrics = json.loads(folder.metrics_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(metrics, dict) or metrics.get("output") != options.output_record():
        return None
    if options.write_video and not folder.video_path.is_file():
        return None
    frames = (folder.frames_dir / f"{index:06d}.png" for index in range(plan.output_frames))
    if options.save_frames and not all(path.is_file() for path in frames):
        return None
    return metrics


def render(
    plan: GenerationPlan,
    run_dir: str | Path,
    *,
    options: RenderOptions | None = None,
    callback: ProgressCallback | None = None,
    control: RenderControl | None = None,
    resume: bool = False,
    settings: dict[str, Any] | None = None,
) -> VideoResult:
    """Generate every clip of `plan` into `run_dir`, then the video (see the module doc)."""
    options = options or RenderOptions()
    started = time.perf_counter()
    device = torch_device(options.device)
    # 1. the run folder, once the models are known to be there and their weights format can run
    #    here (nothing is left behind otherwise)
    models_dir = Path(options.models_dir) if options.models_dir else None
    locations = {
        model: resolve_model(model, models_dir=models_dir, allow_download=options.allow_download)
        for model in dict.fromkeys(clip.model for clip in plan.clips)
    }
    placement, weights = place_models(
        [location.spec for location in locations.values()],
        memory=options.memory,
        weights=options.weights,
        files=options.weights_files,
        device=device,
        clip=ClipSize(max(clip.num_frames for clip in plan.clips), plan.render_height, plan.render_width),
    )
    for model, location in locations.items():  # a LoRA for an expert the model lacks: before any file
        uses = [(lora.file, lora.expert) for clip in plan.clips if clip.model == model for lora in clip.loras]
        check_experts(uses, has_two_experts(location.path), model)
    folder = RunFolder(run_dir)
    folder.start(plan, settings, resume=resume)
    session = _Session(
        plan=plan,
        folder=folder,
        options=options,
        callback=callback or (lambda event: None),
        control=control or RenderControl(),
        device=device,
        dtype=default_dtype(device),
        memory=placement.preset,
        weights=weights,
        stages=StageRecorder(device),
        locations=locations,
    )
    # 2. the clips
    first = folder.first_unfinished(plan)
    session.frames_done = sum(c.new_frames for c in plan.clips[:first])
    session.clip_now = min(first, len(plan.clips) - 1)
    if options.color_coherence and first > 0:
        first_clip = plan.clips[0]
        session.reference = color_stats(
            folder.read_model_frames(range(first_clip.model_start_frame, first_clip.model_end_frame))
        )
    for clip in plan.clips[first:]:
        session.generate(clip)
    session.unload()
    rendered = len(plan.clips) - first
    if rendered == 0:
        kept = _current_output(plan, folder, options)
        if kept is not None:
            session.emit("done", message=f"nothing changed; kept {folder.root}")
            video = folder.video_path if options.write_video else None
            frames_dir = folder.frames_dir if options.save_frames else None
            return VideoResult(folder.root, video, frames_dir, plan, kept, 0)
    # 3. the output
    clock = session.stages.begin_stream("encoding")
    output = write_output(
        plan,
        folder,
        interpolation=options.interpolation,
        save_frames=options.save_frames,
        write_video=options.write_video,
        quality_checks=options.quality_checks,
        crf=options.crf,
        models_dir=options.models_dir,
        device=options.device,
        emit=lambda message: session.emit("writing", message=message),
        clock=clock,
        upscale=options.upscale,
        allow_download=options.allow_download,
    )
    session.stages.end_stream(clock)
    # 4. metrics
    clips = [folder.clip_metadata(c.index) for c in plan.clips]
    wall = time.perf_counter() - started
    metrics = {
        "device": str(device),
        "dtype": str(session.dtype).removeprefix("torch."),
        "speed_preset": options.speed.preset,
        "placement": placement.reason or f"{weights.format} + {placement.preset.name}",
        "model_frames": plan.model_frames,
        "output_frames": plan.output_frames,
        "generation_seconds": round(sum(c["seconds"] for c in clips), 4),
        "wall_seconds_this_session": round(wall, 4),
        "seconds_per_output_frame": round(wall / plan.output_frames, 4),
        "stages": session.stages.to_dict(),
        "stage_memory": session.stages.memory.kind,
        "clips": clips,
        "interpolation": output.interpolation,
        "output": options.output_record(),
    }
    if output.upscale is not None:
        metrics["upscale"] = output.upscale
    checked = summarize(clips, options.quality)
    if output.quality is not None or checked:
        metrics["quality"] = (output.quality.to_dict() if output.quality is not None else {}) | checked
    if current_group() is not None:
        metrics["parallel"] = current_group().to_dict()
    folder.write_metrics(metrics)
    write_quality_plot(metrics, plan.to_dict(), folder.root / "quality.png")
    session.emit("done", message=str(output.video or output.frames_dir or folder.root))
    return VideoResult(folder.root, output.video, output.frames_dir, plan, metrics, rendered)
